/**
 * The launch dialog: pick a workflow (grouped), fill its parameters (from the definition's
 * <parameters>), optionally a remote user/host, a comment and the node that will run it.
 *
 * Sends `<instance action="launch" name=… [user host] comment=…><parameter name value/>…</instance>`
 * to the chosen node (default: the user's preferred node, else this page's node) and offers to
 * open the new instance. Errors (e.g. INVALID_WORKFLOW_PARAMETERS) stay in the dialog.
 */

import { State } from '../connection.js';
import { errorBox, field, options } from '../forms.js';
import { button, h, openDialog, replace, toast } from '../ui.js';
import { attrsOf, buildCommand, child, childElements } from '../wire.js';

/** o: {app, session, cluster, preset: {workflowId, name, parameters, user, host, comment, node}} */
export function openLaunchDialog({ app, session, cluster, preset = {} }) {
  const errors = errorBox('launch-error');
  const workflow = h(
    'select',
    { name: 'workflow', required: true, testid: 'launch-workflow', autofocus: true },
    h('option', { value: '' }, 'Loading workflows…'),
  );
  const paramsBox = h('div', { class: 'params', testid: 'launch-parameters' });
  const comment = h('input', {
    type: 'text',
    name: 'comment',
    testid: 'launch-comment',
    value: preset.comment ?? `Launch by ${session.user}`,
  });
  const user = h('input', {
    type: 'text',
    name: 'user',
    testid: 'launch-user',
    value: preset.user || '',
    placeholder: 'run as (SSH user)',
  });
  const host = h('input', {
    type: 'text',
    name: 'host',
    testid: 'launch-host',
    value: preset.host || '',
    placeholder: 'local',
  });
  const preferred = preset.node || session.preferences.preferred_node;
  const nodeNames = cluster.nodeNames();
  const node = h(
    'select',
    { name: 'node', testid: 'launch-node' },
    cluster.nodes.map((n) =>
      h(
        'option',
        {
          value: n.name,
          selected: n.name === (nodeNames.includes(preferred) ? preferred : cluster.self.name),
        },
        `${n.name}${n.state === State.READY ? '' : ' (down)'}`,
      ),
    ),
  );
  const submit = button('Launch', null, { kind: 'primary', type: 'submit', testid: 'launch-submit' });
  const form = h(
    'form',
    { class: 'form', testid: 'launch-form' },
    field('Workflow', workflow),
    paramsBox,
    field('Comment', comment),
    h(
      'details',
      { open: Boolean(preset.user || preset.host) },
      h('summary', {}, 'Remote execution'),
      field('User', user),
      field('Host', host, 'Tasks run over SSH on this host when set.'),
    ),
    field('Node', node, 'The engine node that runs the instance.'),
    errors.el,
    h(
      'div',
      { class: 'form-actions' },
      button('Close', () => dlg.close()),
      submit,
    ),
  );
  const dlg = openDialog({ title: 'Launch a workflow', body: form, testid: 'launch-dialog' });
  let workflows = [];

  async function loadParameters() {
    replace(paramsBox);
    const w = workflows.find((x) => x.name === workflow.value);
    if (!w) return;
    try {
      const root = await cluster.api(buildCommand('workflow', { action: 'get', id: w.id }));
      const def = child(child(root, 'workflow'), 'workflow');
      const names = childElements(child(def, 'parameters'), 'parameter').map((p) => p.getAttribute('name'));
      if (workflow.value !== w.name) return; // changed meanwhile
      replace(
        paramsBox,
        names.length
          ? names.map((n) =>
              field(
                `Parameter ${n}`,
                h('input', {
                  type: 'text',
                  name: `parameter_${n}`,
                  dataset: { parameter: n },
                  testid: `launch-param-${n}`,
                  value: (preset.parameters && preset.parameters[n]) || '',
                }),
              ),
            )
          : h('p', { class: 'note' }, 'This workflow takes no parameter.'),
      );
    } catch (e) {
      errors.show(e);
    }
  }

  workflow.addEventListener('change', loadParameters);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.clear();
    if (!workflow.value) {
      errors.show('Choose a workflow.');
      return;
    }
    const params = Array.from(paramsBox.querySelectorAll('input[data-parameter]')).map((i) => [
      i.dataset.parameter,
      i.value,
    ]);
    submit.disabled = true;
    try {
      const root = await cluster.api(
        buildCommand(
          'instance',
          {
            action: 'launch',
            name: workflow.value,
            user: user.value.trim(),
            host: host.value.trim(),
            comment: comment.value,
          },
          params,
        ),
        { node: node.value },
      );
      const id = root.getAttribute('workflow-instance-id');
      dlg.close();
      const t = toast(`Launched instance ${id} on ${node.value}`, 'success', { testid: 'launch-toast' });
      t.prepend(
        button(
          'Open',
          () => {
            t.remove();
            app.openInstance(id, node.value);
          },
          { kind: 'small', testid: 'launch-open' },
        ),
      );
    } catch (e) {
      errors.show(e);
    } finally {
      submit.disabled = false;
    }
  });

  cluster
    .api(buildCommand('workflows', { action: 'list' }))
    .then((root) => {
      workflows = childElements(root, 'workflow')
        .map(attrsOf)
        .sort((a, b) => (a.group || '').localeCompare(b.group || '') || a.name.localeCompare(b.name));
      const wanted =
        preset.name || (workflows.find((w) => w.id === String(preset.workflowId)) || {}).name || '';
      replace(
        workflow,
        options(
          [
            { value: '', label: 'Choose a workflow' },
            ...workflows.map((w) => ({
              value: w.name,
              label: w.comment ? `${w.name} — ${w.comment}` : w.name,
              group: w.group || 'No group',
            })),
          ],
          wanted,
        ),
      );
      if (wanted) loadParameters();
      workflow.focus();
    })
    .catch((e) => errors.show(e));
  return dlg;
}
