// A task's saga timeline drawn on a time axis, and a live follower of a task (its event stream, polling when the stream fails).
import * as api from '../api.js';
import { h, time } from '../dom.js';

const finalStatuses = ['SUCCESS', 'FAILED', 'CANCELED'];
export const isFinal = (task) => finalStatuses.includes(task?.status);

function seconds(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

/**
 * The timeline as a table: each state entered, when, how long it lasted (until the next entry, or until now while the task
 * runs), and a bar placed on the task's time axis.
 */
export function timeline(task, now = Date.now()) {
  const entries = task.timeline || [];
  if (entries.length === 0) return h('p', {}, 'No timeline yet.');
  const start = Date.parse(entries[0].at);
  const ends = entries.map((e, i) => (i + 1 < entries.length ? Date.parse(entries[i + 1].at) : (isFinal(task) ? Date.parse(e.at) : now)));
  const total = Math.max(1, Math.max(...ends) - start);
  const rows = entries.map((entry, i) => {
    const at = Date.parse(entry.at);
    const spent = ends[i] - at;
    const span = h('span', { class: 'span' });
    span.style.left = `${((at - start) / total) * 100}%`;
    span.style.width = `max(2px, ${(spent / total) * 100}%)`;
    const last = i === entries.length - 1;
    return h('tr', { class: last ? 'current' : null },
      h('th', { scope: 'row' }, entry.state),
      h('td', {}, entry.status),
      h('td', {}, time(entry.at)),
      h('td', { class: 'num' }, last && isFinal(task) ? '—' : seconds(spent)),
      h('td', { class: 'axis', 'aria-hidden': 'true' }, span),
      h('td', {}, entry.note || ''));
  });
  return h('table', { class: 'timeline', 'aria-label': 'Timeline' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Entered'),
      h('th', { scope: 'col' }, 'Time spent'), h('th', { scope: 'col', class: 'axis' }, `0 → ${seconds(total)}`), h('th', { scope: 'col' }, 'Note'))),
    h('tbody', {}, rows));
}

/**
 * Calls onTask(task) with the task now and after each of its events until it is final; returns a function that stops.
 * The task's event stream ends at its final event; if the stream breaks, the task is polled every 2 s instead.
 */
export function followTask(ctx, taskId, onTask) {
  const abort = new AbortController();
  const path = `${ctx.api}/tasks/${encodeURIComponent(taskId)}`;
  let last = null;
  let asked = 0;
  let shown = 0;
  // Answers may arrive out of order (one GET per event): an older one never replaces a newer one.
  const refresh = async () => {
    const mine = ++asked;
    const task = await api.get(path);
    if (mine > shown && !abort.signal.aborted) {
      shown = mine;
      last = task;
      onTask(task);
    }
    return last;
  };
  const stopWhenTerminal = (error) => { if (api.isTerminal(error)) abort.abort(); };
  (async () => {
    try {
      if (isFinal(await refresh())) return;
      await api.stream(`${path}/events`, () => { refresh().catch(stopWhenTerminal); }, abort.signal);
      await refresh();
    } catch (error) {
      stopWhenTerminal(error);
    }
    while (!abort.signal.aborted && !isFinal(last)) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      if (!abort.signal.aborted) await refresh().catch(stopWhenTerminal);
    }
  })();
  return () => abort.abort();
}
