// #/tenants (admins): every tenant with its status and how much of each quota it uses (used + held of the limit).
import * as api from '../api.js';
import { h, fill, sized, format, problem } from '../dom.js';

export const resources = [
  { key: 'cpu', label: 'CPU', unit: 'vCPU' },
  { key: 'memoryMB', label: 'Memory', unit: 'MB' },
  { key: 'storageMB', label: 'Storage', unit: 'MB' },
  { key: 'vmCount', label: 'VMs', unit: '' },
];

/** A table cell's compact usage: "used + held / limit" and a small bar (no bar for an unlimited quota). */
function usageCell(q, unit) {
  if (!q) return h('td', {}, '—');
  const limit = q.limit < 0 ? 'unlimited' : q.limit;
  const text = `${format(q.used)}${q.held ? ` + ${format(q.held)} held` : ''} / ${format(limit)}${unit ? ' ' + unit : ''}`;
  const track = h('span', { class: 'mini-track', 'aria-hidden': 'true' },
    sized(h('span', { class: 'bar-used' }), q.used, q.limit), q.held ? sized(h('span', { class: 'bar-held' }), q.held, q.limit) : null);
  const over = q.limit >= 0 && q.used + q.held > q.limit;
  return h('td', { class: over ? 'num over' : 'num' }, text, over ? ' (over the limit)' : null, q.limit >= 0 ? track : null);
}

export async function render(root, params, ctx) {
  const body = h('div');
  fill(root, h('h1', {}, 'Tenants'), body);
  let tenants;
  try {
    tenants = await api.get('/api/v1/admin/tenants');
  } catch (error) {
    fill(body, problem(error));
    return null;
  }
  if (tenants.length === 0) {
    fill(body, h('p', {}, 'No tenant yet.'));
    return null;
  }
  const quotas = await Promise.all(tenants.map((t) =>
    api.get(`/api/v1/admin/tenants/${encodeURIComponent(t.tenantId)}/quotas`).catch(() => null)));
  fill(body, h('table', { id: 'tenants' },
    h('caption', { class: 'hint' }, 'Quota use per tenant: used + held by tasks in flight, of the limit.'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Tenant'), h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Status'),
      resources.map((r) => h('th', { scope: 'col' }, r.label)))),
    h('tbody', {}, tenants.map((t, i) => h('tr', { dataset: { tenantId: t.tenantId } },
      h('th', { scope: 'row' }, h('a', { href: `#/tenants/${encodeURIComponent(t.tenantId)}` }, t.tenantId)),
      h('td', {}, t.name || '—'),
      h('td', {}, h('span', { class: `badge badge-tenant-${String(t.status).toLowerCase()}` }, t.status)),
      resources.map((r) => usageCell(quotas[i]?.[r.key], r.unit)))))));
  return null;
}
