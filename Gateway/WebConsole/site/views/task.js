// #/tasks/<id>: one task, followed live: status, facts, the saga timeline, placement (admins), quota hold, result or error, progress,
// the retry chain, and Cancel / Retry.
import * as api from '../api.js';
import { ApiError } from '../api.js';
import { h, fill, time, format, statusBadge, problem } from '../dom.js';
import { timeline, followTask, isFinal } from './timeline.js';

const taskLink = (id) => h('a', { href: `#/tasks/${encodeURIComponent(id)}`, class: 'mono' }, id);

function facts(rows) {
  return h('dl', { class: 'facts' }, rows.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value ?? '—')]));
}

function json(value) {
  return h('pre', { class: 'json', tabindex: '0' }, JSON.stringify(value, null, 2));
}

function errorBlock(task) {
  const error = task.error;
  if (!error) return null;
  const title = task.status === 'CANCELED' ? 'Canceled' : task.status === 'FAILED' ? 'Failed' : 'Error';
  return h('div', { class: 'alert task-error', role: 'alert', id: 'task-error' },
    h('p', { class: 'error-title' }, h('strong', {}, `${title}: `), h('code', { class: 'error-code', id: 'task-error-code' }, error.code)),
    h('p', { class: 'error-message' }, error.message || ''),
    error.details ? h('details', {}, h('summary', {}, 'Details'), json(error.details)) : null);
}

function placementBlock(placement) {
  if (!placement) return h('p', {}, 'No placement decision yet.');
  const r = placement.requirement || {};
  const candidates = placement.candidates || [];
  return [
    facts([
      ['Elected agent', placement.agentId || 'none'],
      ['Requirement', `${format(r.cpu)} CPU, ${format(r.memoryMB)} MB memory, ${format(r.storageMB)} MB storage`],
      ['Agents considered', format(placement.considered ?? candidates.length)],
    ]),
    candidates.length === 0 ? h('p', {}, 'No candidate agents.') : h('table', { 'aria-label': 'Placement candidates', class: 'candidates' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col' }, 'Eligible'), h('th', { scope: 'col', class: 'num' }, 'Score'),
        h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col', class: 'num' }, 'Free CPU'), h('th', { scope: 'col', class: 'num' }, 'Free memory (MB)'),
        h('th', { scope: 'col', class: 'num' }, 'Free storage (MB)'), h('th', { scope: 'col', class: 'num' }, 'Heartbeat age (s)'))),
      h('tbody', {}, candidates.map((c) => h('tr', { class: c.agentId === placement.agentId ? 'elected' : null },
        h('th', { scope: 'row' }, c.agentId, c.agentId === placement.agentId ? h('span', { class: 'badge badge-success elected-mark' }, 'elected') : null),
        h('td', {}, c.eligible ? 'yes' : 'no'),
        h('td', { class: 'num' }, typeof c.score === 'number' ? c.score.toFixed(3) : '—'),
        h('td', {}, c.reason || ''),
        h('td', { class: 'num' }, format(c.freeCpu)),
        h('td', { class: 'num' }, format(c.freeMemoryMB)),
        h('td', { class: 'num' }, format(c.freeStorageMB)),
        h('td', { class: 'num' }, typeof c.heartbeatAgeSeconds === 'number' ? c.heartbeatAgeSeconds.toFixed(1) : '—'))))),
  ];
}

function quotaBlock(quota) {
  if (!quota) return h('p', {}, 'No quota information.');
  const d = quota.deltas;
  return facts([
    ['Deltas', d ? `${format(d.cpu)} CPU, ${format(d.memoryMB)} MB memory, ${format(d.storageMB)} MB storage, ${format(d.vmCount)} VM` : 'none'],
    ['Hold', quota.hold || 'none'],
    quota.hold === 'held' ? ['Hold expires', time(quota.holdExpiresAt)] : null,
    quota.overLimit ? ['Over limit', 'yes'] : null,
    quota.holdLapsed ? ['Hold lapsed', 'yes'] : null,
  ]);
}

function section(id, title) {
  const body = h('div', {});
  const element = h('section', { 'aria-labelledby': `${id}-title`, id },
    h('h2', { id: `${id}-title` }, title), body);
  return { element, body };
}

export async function render(root, params, ctx) {
  const taskId = params[0];
  const path = `${ctx.api}/tasks/${encodeURIComponent(taskId)}`;
  let first;
  try {
    first = await api.get(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      fill(root, h('h1', {}, 'Task not found'),
        h('p', { role: 'alert', class: 'alert', id: 'task-not-found' }, `There is no task ${taskId} that you can see.`),
        h('p', {}, h('a', { href: '#/tasks' }, 'Back to the tasks')));
      return null;
    }
    throw error;
  }

  const statusLine = h('p', { id: 'task-status', class: 'task-status' });
  const actions = h('div', { class: 'actions', id: 'task-actions' });
  const actionMessage = h('div', { id: 'task-action-message' });
  const error = h('div', {});
  const factList = h('div', { id: 'task-facts' });
  const timelineBox = section('task-timeline', 'Timeline');
  const placement = ctx.isAdmin ? section('task-placement', 'Placement') : null;
  const quota = section('task-quota', 'Quota hold');
  const progress = section('task-progress', 'Progress');
  const result = section('task-result', 'Result');
  const data = section('task-data', 'Request data');

  fill(root,
    h('p', { class: 'crumbs' }, h('a', { href: '#/tasks' }, '← Tasks')),
    h('h1', {}, 'Task ', h('span', { class: 'mono' }, taskId)),
    statusLine, actions, actionMessage, error, factList,
    timelineBox.element, placement?.element, quota.element, progress.element, result.element, data.element);

  let task = first;
  let actionsKey = null;
  let confirming = false;
  let busy = false;

  function drawActions() {
    const canCancel = ctx.canWrite && !isFinal(task) && task.status !== 'canceling';
    const canRetry = ctx.canWrite && (task.status === 'FAILED' || task.status === 'CANCELED') && !task.retriedBy;
    const key = `${canCancel}|${canRetry}|${confirming}|${busy}`;
    if (key === actionsKey) return;
    const hadFocus = actions.contains(document.activeElement);
    actionsKey = key;
    const buttons = [];
    if (canCancel && !confirming) {
      buttons.push(h('button', { type: 'button', class: 'danger', id: 'task-cancel', disabled: busy, onclick: () => { confirming = true; drawActions(); } }, 'Cancel task'));
    }
    if (canCancel && confirming) {
      buttons.push(h('span', { class: 'confirm-text' }, 'Cancel this task?'),
        h('button', { type: 'button', class: 'danger', id: 'task-cancel-confirm', disabled: busy, onclick: cancel }, 'Yes, cancel the task'),
        h('button', { type: 'button', id: 'task-cancel-keep', disabled: busy, onclick: () => { confirming = false; drawActions(); } }, 'Keep it'));
    }
    if (canRetry) {
      buttons.push(h('button', { type: 'button', class: 'primary', id: 'task-retry', disabled: busy, onclick: retry }, 'Retry as a new task'));
    }
    fill(actions, buttons);
    if (hadFocus) (actions.querySelector('button:not([disabled])') || root).focus?.();
  }

  async function cancel() {
    busy = true;
    drawActions();
    fill(actionMessage);
    try {
      const answer = await api.post(`${path}/cancel`);
      if (answer.body?.taskId) update(answer.body);
      ctx.say(answer.status === 202 ? 'Cancel asked: the agent is stopping the task.' : 'The task was canceled.');
    } catch (e) {
      fill(actionMessage, problem(e));
    } finally {
      busy = false;
      confirming = false;
      drawActions();
    }
  }

  async function retry() {
    busy = true;
    drawActions();
    fill(actionMessage);
    try {
      const answer = await api.post(`${path}/retry`);
      ctx.say('Retried as a new task.');
      location.hash = `#/tasks/${encodeURIComponent(answer.body.taskId)}`;
    } catch (e) {
      fill(actionMessage, problem(e));
      busy = false;
      drawActions();
    }
  }

  function update(next) {
    task = next;
    fill(statusLine, h('span', { class: 'label' }, 'Status '), statusBadge(task.status), ' ', h('span', { class: 'state' }, task.state));
    drawActions();
    // An alert is announced each time it is drawn: only when the error changes.
    const errorKey = JSON.stringify(task.error ?? null);
    if (error.dataset.shown !== errorKey) {
      error.dataset.shown = errorKey;
      fill(error, errorBlock(task));
    }
    fill(factList, facts([
      ['Action', task.action],
      ['Tenant', task.tenantId],
      ctx.isAdmin ? ['Agent', task.agentId || '—'] : null,
      ['Target', task.target ? [task.target.kind, task.target.refId ? ` ${task.target.refId}` : ''].join('') : '—'],
      ['Created', time(task.createdAt)],
      ['Started', time(task.startedAt)],
      ['Finished', time(task.finishedAt)],
      ['Deadline', isFinal(task) ? '—' : time(task.deadlineAt)],
      ['Updated', time(task.updatedAt)],
      task.retryOf ? ['Retry of', taskLink(task.retryOf)] : null,
      task.retriedBy ? ['Retried by', taskLink(task.retriedBy)] : null,
      task.lateSuccess ? ['Late success', 'the agent succeeded after the task had ended'] : null,
    ]));
    fill(timelineBox.body, timeline(task));
    if (placement) fill(placement.body, placementBlock(task.placement));
    fill(quota.body, quotaBlock(task.quota));
    const messages = task.progress || [];
    progress.element.hidden = !ctx.isAdmin && messages.length === 0;
    fill(progress.body, messages.length === 0 ? h('p', {}, 'No progress messages.')
      : h('ol', { class: 'progress' }, messages.map((p) => h('li', {}, time(p.at), ' ', p.message))));
    result.element.hidden = task.result === null || task.result === undefined;
    fill(result.body, result.element.hidden ? null : json(task.result));
    fill(data.body, task.data === null || task.data === undefined ? h('p', {}, '—') : json(task.data));
  }

  update(first);
  const stop = followTask(ctx, taskId, update);
  // While the task runs, its current state's time grows: the timeline is redrawn each second.
  const tick = setInterval(() => { if (!isFinal(task)) fill(timelineBox.body, timeline(task)); }, 1000);
  return () => { stop(); clearInterval(tick); };
}
