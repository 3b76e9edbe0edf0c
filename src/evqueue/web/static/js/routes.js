/**
 * The route table: which page a hash path mounts, its title, the menu entry it marks, and what
 * it needs (public: no login; admin: the ADMIN profile; module: an optional engine module that
 * every node must announce, e.g. 'storage').
 *
 * First match wins (router.js); '/workflow/new' comes before '/workflow/:id'.
 */

import * as configuration from './pages/configuration.js';
import * as displays from './pages/displays.js';
import * as instances from './pages/instances.js';
import * as launchers from './pages/launchers.js';
import * as login from './pages/login.js';
import * as logs from './pages/logs.js';
import * as nodes from './pages/nodes.js';
import * as notifications from './pages/notifications.js';
import * as queues from './pages/queues.js';
import * as retrySchedules from './pages/retry-schedules.js';
import * as schedules from './pages/schedules.js';
import * as statistics from './pages/statistics.js';
import * as users from './pages/users.js';
import * as variables from './pages/variables.js';
import * as editor from './pages/workflow-editor.js';
import * as workflows from './pages/workflows.js';

export const ROUTES = [
  { pattern: '/login', page: login, title: 'Log in', public: true },
  { pattern: '/instances', page: instances, title: 'Instances', nav: 'instances' },
  { pattern: '/instance/:id', redirect: (p, q) => ['/instances', { ...q, instance: p.id }] },
  { pattern: '/workflows', page: workflows, title: 'Workflows', nav: 'workflows' },
  { pattern: '/workflow/new', page: editor, title: 'New workflow', nav: 'workflows', admin: true },
  { pattern: '/workflow/:id', page: editor, title: 'Workflow editor', nav: 'workflows' },
  { pattern: '/schedules', page: schedules, title: 'Workflow schedules', nav: 'schedules', admin: true },
  { pattern: '/nodes', page: nodes, title: 'Nodes', nav: 'nodes' },
  { pattern: '/queues', page: queues, title: 'Queues', nav: 'queues' },
  { pattern: '/retry-schedules', page: retrySchedules, title: 'Retry schedules', nav: 'retry-schedules' },
  {
    pattern: '/notifications',
    page: notifications,
    title: 'Notifications',
    nav: 'notifications',
    admin: true,
  },
  { pattern: '/users', page: users, title: 'Users and rights', nav: 'users', admin: true },
  { pattern: '/variables', page: variables, title: 'Variables', nav: 'variables', module: 'storage' },
  { pattern: '/launchers', page: launchers, title: 'Launchers', nav: 'launchers', module: 'storage' },
  { pattern: '/displays', page: displays, title: 'Displays', nav: 'displays', module: 'storage' },
  { pattern: '/logs/:kind', page: logs, title: 'Logs', navFrom: (p) => `logs-${p.kind}` },
  { pattern: '/statistics', page: statistics, title: 'Statistics', nav: 'statistics' },
  {
    pattern: '/configuration',
    page: configuration,
    title: 'Running configuration',
    nav: 'configuration',
    admin: true,
  },
];
