// #/tasks: the task list with its filters (kept in the hash query: #/tasks?status=FAILED&olderThanSeconds=60), paged, refreshed live
// from the caller's event stream.
import * as api from '../api.js';
import { h, fill, age, statusBadge, problem } from '../dom.js';

const statuses = ['pending', 'sent', 'running', 'canceling', 'SUCCESS', 'FAILED', 'CANCELED'];
const actions = ['vm.create', 'vm.delete', 'vm.edit', 'vm.power', 'inventory.refresh'];
const states = ['Validating', 'Electing', 'Enriching', 'HoldingQuota', 'Dispatching', 'AwaitingResult', 'Canceling', 'Succeeded', 'Failed', 'Canceled'];
const pageSize = 25;
const debounceMs = 400;

/** The filters named in the hash query, only the known ones. */
function readFilters(isAdmin) {
  const query = new URLSearchParams(location.hash.split('?')[1] || '');
  const names = ['status', 'state', 'action', 'olderThanSeconds', 'stuck', 'offset', ...(isAdmin ? ['tenantId', 'agentId'] : [])];
  const filters = {};
  for (const name of names) {
    const value = query.get(name);
    if (value !== null && value !== '') filters[name] = value;
  }
  return filters;
}

function hashOf(filters) {
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const text = query.toString();
  return text ? `#/tasks?${text}` : '#/tasks';
}

/** The API's query: "stuck" is a task not ended (inFlight=true) older than the age given (5 min when none is). */
function apiQuery(filters) {
  const query = new URLSearchParams({ limit: String(pageSize), offset: filters.offset || '0' });
  for (const name of ['status', 'state', 'action', 'tenantId', 'agentId', 'olderThanSeconds']) {
    if (filters[name]) query.set(name, filters[name]);
  }
  if (filters.stuck) {
    query.set('inFlight', 'true');
    if (!filters.olderThanSeconds) query.set('olderThanSeconds', '300');
  }
  return query.toString();
}

function field(id, label, control, hint) {
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null);
}

function select(name, value, options, anyLabel) {
  return h('select', { name },
    h('option', { value: '' }, anyLabel),
    options.map((o) => h('option', { value: o, selected: o === value }, o)));
}

function input(name, value, attributes = {}) {
  return h('input', { name, value: value || '', ...attributes });
}

export async function render(root, params, ctx) {
  let filters = readFilters(ctx.isAdmin);
  const abort = new AbortController();
  let timer = null;
  let loading = null;

  const form = h('form', { class: 'filters', 'aria-label': 'Filters' },
    field('filter-status', 'Status', select('status', filters.status, statuses, 'Any status')),
    field('filter-state', 'State', select('state', filters.state, states, 'Any state')),
    field('filter-action', 'Action', select('action', filters.action, actions, 'Any action')),
    ctx.isAdmin ? field('filter-tenant', 'Tenant', input('tenantId', filters.tenantId, { type: 'text', autocomplete: 'off', spellcheck: 'false' })) : null,
    ctx.isAdmin ? field('filter-agent', 'Agent', input('agentId', filters.agentId, { type: 'text', autocomplete: 'off', spellcheck: 'false' })) : null,
    field('filter-age', 'Older than (seconds)', input('olderThanSeconds', filters.olderThanSeconds, { type: 'number', min: '0', step: '1', inputmode: 'numeric', class: 'short' })),
    h('div', { class: 'field check' },
      h('input', { type: 'checkbox', id: 'filter-stuck', name: 'stuck', value: '1', checked: !!filters.stuck, 'aria-describedby': 'filter-stuck-hint' }),
      h('label', { for: 'filter-stuck' }, 'Stuck only'),
      h('p', { class: 'hint', id: 'filter-stuck-hint' }, 'Not ended and older than the age given (5 min when none is).')),
    h('div', { class: 'field buttons' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
      h('button', { type: 'button', id: 'filter-reset', onclick: () => { for (const c of form.elements) { if (c.type === 'checkbox') c.checked = false; else if (c.name) c.value = ''; } apply(); } }, 'Clear')));

  const summary = h('p', { class: 'hint', id: 'tasks-summary', 'aria-live': 'polite' });
  const live = h('p', { class: 'hint live', id: 'tasks-live' }, 'Connecting to live updates…');
  const results = h('div', { id: 'tasks-results' });
  const pager = h('nav', { class: 'actions', 'aria-label': 'Pages' });

  fill(root, h('h1', {}, 'Tasks'), form, h('div', { class: 'list-head' }, summary, live), results, pager);

  function fromForm() {
    const data = new FormData(form);
    const next = {};
    for (const [name, value] of data.entries()) {
      const text = String(value).trim();
      if (text) next[name] = text;
    }
    return next;
  }

  function apply(offset) {
    filters = fromForm();
    if (offset) filters.offset = String(offset);
    // replaceState: the list is redrawn here, without the router rebuilding the view (and the focus staying where it is).
    history.replaceState(null, '', hashOf(filters));
    return load();
  }

  form.addEventListener('submit', (event) => { event.preventDefault(); apply(); });
  for (const control of form.querySelectorAll('select, input[type=checkbox]')) control.addEventListener('change', () => apply());

  function row(task) {
    const created = Date.parse(task.createdAt);
    return h('tr', { dataset: { taskId: task.taskId } },
      h('td', {}, statusBadge(task.status)),
      h('th', { scope: 'row' }, h('a', { href: `#/tasks/${encodeURIComponent(task.taskId)}`, class: 'mono' }, task.taskId)),
      h('td', {}, task.action),
      h('td', {}, task.tenantId),
      ctx.isAdmin ? h('td', {}, task.agentId || '—') : null,
      h('td', {}, task.state),
      h('td', { class: 'num', title: task.createdAt }, age((Date.now() - created) / 1000)),
      h('td', {}, task.error ? h('code', { class: 'error-code' }, task.error.code) : ''));
  }

  let asked = 0;
  async function load() {
    const mine = ++asked;
    const run = (async () => {
      try {
        const page = await api.get(`${ctx.api}/tasks?${apiQuery(filters)}`);
        // A newer load (other filters, a later event) has been asked for: this answer is stale.
        if (abort.signal.aborted || mine !== asked) return;
        const offset = page.offset || 0;
        const items = page.items || [];
        const said = items.length
          ? `Tasks ${offset + 1}–${offset + items.length}, newest first${page.nextOffset != null ? '' : ' (last page)'}`
          : 'No task matches these filters.';
        // A live region: announced when it changes, not at every event.
        if (summary.textContent !== said) summary.textContent = said;
        fill(results, items.length === 0 ? null : h('table', { 'aria-label': 'Tasks', class: 'tasks' },
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Task'), h('th', { scope: 'col' }, 'Action'),
            h('th', { scope: 'col' }, 'Tenant'), ctx.isAdmin ? h('th', { scope: 'col' }, 'Agent') : null,
            h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Age'), h('th', { scope: 'col' }, 'Error'))),
          h('tbody', {}, items.map(row))));
        fill(pager,
          offset > 0 ? h('button', { type: 'button', onclick: () => apply(Math.max(0, offset - pageSize)) }, '← Newer') : null,
          page.nextOffset != null ? h('button', { type: 'button', onclick: () => apply(page.nextOffset) }, 'Older →') : null);
      } catch (error) {
        if (abort.signal.aborted || mine !== asked) return;
        summary.textContent = '';
        fill(results, problem(error));
        fill(pager);
      }
    })();
    loading = run;
    return run;
  }

  /** Events arrive in bursts (a task passes several states in a second): one reload per burst. */
  function scheduleReload() {
    if (timer) return;
    timer = setTimeout(() => { timer = null; if (!abort.signal.aborted) load(); }, debounceMs);
  }

  (async () => {
    while (!abort.signal.aborted) {
      try {
        live.textContent = 'Live: the list follows task events.';
        live.classList.add('on');
        await api.stream(`${ctx.api}/events`, scheduleReload, abort.signal);
      } catch (error) {
        if (api.isTerminal(error)) return;
        /* broken stream: reconnect below */
      }
      if (abort.signal.aborted) return;
      live.classList.remove('on');
      live.textContent = 'Live updates interrupted; reconnecting…';
      await new Promise((resolve) => setTimeout(resolve, 3000));
      scheduleReload();
    }
  })();

  await load();
  return () => {
    abort.abort();
    if (timer) clearTimeout(timer);
    void loading;
  };
}
