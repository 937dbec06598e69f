// DOM helpers: every value from the API is put in as text, never parsed as HTML.

/** h('a', { href: '#/x', class: 'c' }, 'text', child...) */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A labelled horizontal bar: used (and held, when given) out of a limit or capacity. */
export function bar(label, used, limit, held = 0, unit = '') {
  const text = `${label}: ${format(used)}${held ? ` used + ${format(held)} held` : ''} of ${format(limit)}${unit ? ' ' + unit : ''}`;
  return h('div', { class: 'bar', role: 'img', 'aria-label': text, title: text },
    h('span', { class: 'bar-label' }, label),
    h('span', { class: 'bar-track' }, sized(h('span', { class: 'bar-used' }), used, limit), held ? sized(h('span', { class: 'bar-held' }), held, limit) : null),
    h('span', { class: 'bar-text' }, `${format(used)}${held ? ' + ' + format(held) : ''} / ${format(limit)}${unit ? ' ' + unit : ''}`));
}

/** Widths are set through the CSSOM: a style attribute would need 'unsafe-inline' in the CSP. */
export function sized(element, value, whole) {
  element.style.width = `${whole > 0 ? Math.min(100, Math.max(0, (value / whole) * 100)) : 0}%`;
  return element;
}

export function format(value) {
  return typeof value === 'number' ? value.toLocaleString('en-US') : String(value ?? '—');
}

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return h('time', { datetime: iso, title: iso }, d.toLocaleString('en-GB', { hour12: false }));
}

/** "3 s", "4 min", "2 h", "5 d" */
export function age(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function statusBadge(status) {
  return h('span', { class: `badge badge-${String(status).toLowerCase()}` }, status);
}

/** A problem from the API as an alert: its code, what it says, and each field's errors. */
export function problem(error) {
  const fields = error?.errors ? Object.entries(error.errors) : [];
  return h('div', { class: 'alert', role: 'alert' },
    h('strong', {}, error?.code || 'Error'), ' ', error?.message || String(error),
    fields.length ? h('ul', {}, fields.map(([k, v]) => h('li', {}, `${k}: ${[].concat(v).join(' ')}`))) : null);
}
