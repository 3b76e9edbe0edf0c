/**
 * Workflow editor: properties (name, group, comment), a structured view of jobs/tasks/inputs,
 * the raw XML, and the workflow's notification subscriptions.
 *
 * Rules:
 * - One source of truth, the XML text. Structure edits change the parsed DOM and rewrite the
 *   text; typing in the XML view re-parses it (syntax errors shown with their line).
 * - Save sends `workflow create|edit` with content = base64 of the UTF-8 text, exactly as shown,
 *   so a line number in the engine's error points at the same line here ("Go to line").
 * - Leaving with unsaved changes asks first (route guard and beforeunload); Ctrl+S saves.
 * - Download/upload use evQueue's file shape <workflow name group comment><workflow>…</workflow></workflow>.
 * - Every edit (graph, structure, XML) is recorded for undo/redo (Ctrl+Z, Ctrl+Y outside text
 *   fields); undo restores the text and redraws the open tab.
 */

import { errorBox, field } from '../forms.js';
import { History } from '../graph/history.js';
import { button, busy, h, replace, showError, tabs, toast } from '../ui.js';
import {
  attrsOf,
  base64Encode,
  buildCommand,
  child,
  childElements,
  lineFromMessage,
  parseXml,
  XmlSyntaxError,
} from '../wire.js';
import { downloadWorkflow } from './editor-file.js';
import { followEditorLists } from './editor-lists.js';
import { renderStructure } from './editor-tree.js';
import { definitionText, localProblems, NEW_WORKFLOW } from './workflow-doc.js';
import { graphEditor } from './workflow-graph.js';
import { notificationsView } from './workflow-notifications.js';

/** Document of the inner definition of a `workflow get` reply or an exported file. */
export function definitionOf(root) {
  const inner = childElements(root, 'workflow')[0];
  const doc = document.implementation.createDocument(null, null, null);
  doc.appendChild(doc.importNode(inner || root, true));
  return doc;
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, session, scope, router, app } = ctx;
  let id = ctx.params.id || '';
  let doc = parseXml(NEW_WORKFLOW);
  let text = definitionText(doc);
  let saved = id ? null : { text: '', name: '', group: '', comment: '' };
  let parseTimer = null; // an XML edit waiting to be parsed
  let syntaxShown = false; // the error box holds our own syntax error (not the engine's reply)
  /** Parse the XML view's text now if it changed: a tab drawn from doc shows the last edit. */
  const flushParse = () => {
    if (parseTimer !== null) reparse();
  };
  const env = {
    queues: ['default'],
    retrySchedules: [],
    onChange: (structural) => structureChanged(structural),
    checkXPath,
    warn: (m) => toast(m, 'error'),
  };

  const title = h('h1', {}, id ? 'Workflow' : 'New workflow');
  const name = h('input', {
    type: 'text',
    name: 'name',
    required: true,
    pattern: '[A-Za-z0-9_\\-]{1,64}',
    testid: 'editor-name',
  });
  const group = h('input', { type: 'text', name: 'group', testid: 'editor-group', list: 'editor-groups' });
  const comment = h('input', { type: 'text', name: 'comment', testid: 'editor-comment' });
  const groups = h('datalist', { id: 'editor-groups' });
  const errors = errorBox('editor-error');
  const textarea = h('textarea', {
    class: 'xml-editor',
    spellcheck: false,
    testid: 'editor-xml',
    'aria-label': 'Workflow XML',
    wrap: 'off',
  });
  const structureBox = h('div');
  const graph = graphEditor(env, scope);
  const history = new History();
  const undoBtn = button('↶ Undo', () => travel(history.undo()), { testid: 'editor-undo', title: 'Undo (Ctrl+Z)' });
  const redoBtn = button('↷ Redo', () => travel(history.redo()), { testid: 'editor-redo', title: 'Redo (Ctrl+Y)' });
  const saveBtn = button('Save', () => save(), {
    kind: 'primary',
    testid: 'editor-save',
    disabled: !session.isAdmin,
  });
  const dirtyMark = h('span', { class: 'note', testid: 'editor-dirty' });
  const upload = h('input', {
    type: 'file',
    accept: '.xml,text/xml',
    hidden: true,
    testid: 'editor-upload-file',
  });
  const t = tabs(
    [
      {
        id: 'graph',
        label: 'Graph',
        render: () => {
          flushParse();
          return doc ? graph.show(doc) : syntaxNote();
        },
      },
      {
        id: 'structure',
        label: 'Structure',
        render: () => {
          flushParse();
          drawStructure();
          return structureBox;
        },
      },
      { id: 'xml', label: 'XML', render: () => textarea },
      { id: 'notifications', label: 'Notifications', render: () => notificationsTab() },
    ],
    { testid: 'editor-tabs', initial: ['xml', 'structure'].includes(ctx.query.view) ? ctx.query.view : 'graph' },
  );

  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      title,
      dirtyMark,
      undoBtn,
      redoBtn,
      button('Download XML', download, { testid: 'editor-download' }),
      button('Upload XML…', () => upload.click(), { testid: 'editor-upload' }),
      upload,
      id
        ? button('Launch…', () => app.openLaunch({ workflowId: id, name: name.value }), {
            testid: 'editor-launch',
          })
        : null,
      button('Close', () => router.go('/workflows'), { testid: 'editor-close' }),
      saveBtn,
    ),
    h(
      'form',
      { class: 'inline-form panel', testid: 'editor-properties' },
      field('Name', name, 'Letters, digits, _ and -'),
      field('Group', group),
      field('Comment', comment),
      groups,
    ),
    errors.el,
    t.el,
  );

  let tabScope = null; // the notifications tab's subscriptions, replaced on each redraw
  function notificationsTab() {
    if (tabScope) tabScope.dispose();
    tabScope = scope.child();
    return id
      ? notificationsView({ ...ctx, scope: tabScope }, id)
      : h('p', { class: 'note' }, 'Save the workflow first.');
  }

  const dirty = () =>
    !saved ||
    text !== saved.text ||
    name.value !== saved.name ||
    group.value !== saved.group ||
    comment.value !== saved.comment;
  const markDirty = () => {
    replace(dirtyMark, dirty() ? 'unsaved changes' : '');
    undoBtn.disabled = !history.canUndo();
    redoBtn.disabled = !history.canRedo();
  };

  /** Go back (or forward) to a recorded text: the open tab is drawn again from it. */
  function travel(next) {
    if (next === null) return;
    clearTimeout(parseTimer);
    setText(next);
    doc = parseXml(next);
    if (syntaxShown) errors.clear();
    syntaxShown = false;
    t.select(t.current());
  }

  /** A text that starts a new history (loaded or uploaded). */
  function startText(next) {
    history.reset(next);
    graph.refit();
    setText(next);
  }

  function setText(next) {
    text = next;
    textarea.value = text;
    markDirty();
  }

  function structureChanged(structural) {
    const next = definitionText(doc);
    history.record(next, { typing: !structural });
    setText(next);
    if (structural && t.current() === 'structure') drawStructure();
  }

  function syntaxNote() {
    return h('p', { class: 'note error' }, 'The XML has a syntax error: fix it in the XML view first.');
  }

  function drawStructure() {
    if (!doc) {
      replace(structureBox, syntaxNote());
      return;
    }
    const scrollY = window.scrollY;
    replace(structureBox, renderStructure(doc, env));
    window.scrollTo(0, scrollY);
  }

  function reparse() {
    clearTimeout(parseTimer);
    parseTimer = null;
    try {
      doc = parseXml(text);
      history.record(text, { typing: true });
      markDirty();
      if (syntaxShown) errors.clear();
      syntaxShown = false;
    } catch (e) {
      doc = null;
      showProblem(e);
      syntaxShown = true;
    }
  }
  textarea.addEventListener('input', () => {
    text = textarea.value;
    markDirty();
    clearTimeout(parseTimer);
    parseTimer = setTimeout(reparse, 300);
  });
  scope.add(() => clearTimeout(parseTimer));
  for (const input of [name, group, comment]) input.addEventListener('input', markDirty);

  function goToLine(line) {
    t.select('xml');
    const lines = textarea.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((a, l) => a + l.length + 1, 0);
    textarea.focus();
    textarea.setSelectionRange(start, start + (lines[line - 1] || '').length);
    const lh = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
    textarea.scrollTop = Math.max(0, (line - 5) * lh);
  }

  function showProblem(e, hints = []) {
    const message = e instanceof XmlSyntaxError ? `XML syntax error: ${e.message}` : e;
    errors.show(message);
    const line = e instanceof XmlSyntaxError ? e.line : lineFromMessage(e.message || '');
    if (line)
      errors.el.append(
        ' ',
        button(`Go to line ${line}`, () => goToLine(line), { kind: 'small', testid: 'editor-goto-line' }),
      );
    if (hints.length)
      errors.el.append(
        h(
          'ul',
          {},
          hints.map((p) => h('li', {}, p)),
        ),
      );
  }

  async function save() {
    errors.clear();
    reparse();
    if (!doc) return;
    if (!name.value.trim()) {
      errors.show('A workflow needs a name.');
      name.focus();
      return;
    }
    const attrs = {
      action: id ? 'edit' : 'create',
      id: id || undefined,
      name: name.value.trim(),
      content: base64Encode(text),
      group: group.value.trim(),
      comment: comment.value,
    };
    const cmd = buildCommand('workflow', attrs, [], ['group', 'comment']);
    saveBtn.disabled = true;
    try {
      const root = await cluster.api(cmd);
      saved = { text, name: name.value, group: group.value, comment: comment.value };
      markDirty();
      toast(`Workflow ${name.value} saved`, 'success', { testid: 'editor-saved' });
      if (!id) {
        id = root.getAttribute('workflow-id');
        router.go(`/workflow/${id}`);
      }
    } catch (e) {
      showProblem(e, localProblems(doc));
    } finally {
      saveBtn.disabled = !session.isAdmin;
    }
  }

  function download() {
    downloadWorkflow(name.value, group.value, comment.value, text);
  }

  upload.addEventListener('change', async () => {
    const f = upload.files[0];
    if (!f) return;
    try {
      const root = parseXml(await f.text()).documentElement;
      const wrapped = childElements(root, 'workflow').length > 0;
      doc = definitionOf(root);
      if (wrapped) {
        const a = attrsOf(root);
        if (a.name && !name.value) name.value = a.name;
        if (a.group !== undefined) group.value = a.group;
        if (a.comment !== undefined) comment.value = a.comment;
      }
      startText(definitionText(doc));
      t.select(t.current());
      toast(`Loaded ${f.name}: review, then save`);
    } catch (e) {
      showProblem(e);
    } finally {
      upload.value = '';
    }
  });

  async function checkXPath(expression) {
    if (!expression) return '';
    try {
      const root = await cluster.api(buildCommand('xpath', { action: 'parse', expression }));
      return root.getAttribute('parse-error') || '';
    } catch (e) {
      return e.code === 'UNKNOWN_COMMAND' ? '' : e.message;
    }
  }

  const onKey = (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === 's') {
      ev.preventDefault();
      if (session.isAdmin) save();
    }
    // In a text field Ctrl+Z is the field's own undo.
    if (!(ev.ctrlKey || ev.metaKey) || ev.target.closest('input, textarea, select')) return;
    const key = ev.key.toLowerCase();
    if (key === 'y' || (key === 'z' && ev.shiftKey)) travel(history.redo());
    else if (key === 'z') travel(history.undo());
    else return;
    ev.preventDefault();
  };
  scope.listen(document, 'keydown', onKey);
  scope.listen(window, 'beforeunload', (ev) => {
    if (dirty()) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  });

  followEditorLists(cluster, scope, env, groups);

  if (id) {
    cluster
      .api(buildCommand('workflow', { action: 'get', id }))
      .then((root) => {
        const wrapper = child(root, 'workflow');
        const a = attrsOf(wrapper);
        name.value = a.name || '';
        group.value = a.group || '';
        comment.value = a.comment || '';
        replace(title, `Workflow ${a.name}`);
        doc = definitionOf(wrapper);
        startText(definitionText(doc));
        saved = { text, name: name.value, group: group.value, comment: comment.value };
        markDirty();
        t.select(t.current());
      })
      .catch((e) => showError(e, `Workflow ${id} not loaded`));
  } else {
    startText(text);
    name.focus();
  }
  markDirty();
  return {
    canLeave: () => !dirty() || window.confirm('Leave the editor? Your unsaved changes will be lost.'),
  };
}
