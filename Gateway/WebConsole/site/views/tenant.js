// #/tenants/<id> (admins) and #/quota (a tenant user's own tenant): quota use as bars, the limits form and the recount (admins),
// the tenant's users (admins) and its resources.
import * as api from '../api.js';
import { h, fill, bar, format, time, problem } from '../dom.js';
import { resources } from './tenants.js';

const unlimited = (limit) => (limit < 0 ? 'unlimited' : limit);

function usageBars(quotas) {
  return resources.map((r) => {
    const q = quotas[r.key];
    return q ? bar(r.label, q.used, unlimited(q.limit), q.held, r.unit) : null;
  });
}

/** Resources whose limit is below what the tenant uses and holds now. */
function overLimits(quotas) {
  return resources.filter((r) => quotas[r.key] && quotas[r.key].limit >= 0 && quotas[r.key].used + quotas[r.key].held > quotas[r.key].limit);
}

function overWarning(quotas) {
  const over = overLimits(quotas);
  if (over.length === 0) return null;
  return h('div', { class: 'alert alert-warn', role: 'alert', id: 'quota-over' },
    h('strong', {}, 'Below current use'), ' ',
    'The tenant uses more than these limits; its VMs keep running, but tasks that need more are refused (ERR_QUOTA_EXCEEDED) until use falls under the limit:',
    h('ul', {}, over.map((r) => {
      const q = quotas[r.key];
      return h('li', {}, `${r.label}: ${format(q.used)} used + ${format(q.held)} held, limit ${format(q.limit)}${r.unit ? ' ' + r.unit : ''}`);
    })));
}

/** The limits form: one labelled number per resource, the API's field errors next to each. */
function limitsForm(tenantId, quotas, onSaved, ctx) {
  const outcome = h('div', { id: 'limits-outcome' });
  const inputs = {};
  const errors = {};
  const fields = resources.map((r) => {
    const id = `limit-${r.key}`;
    const input = h('input', {
      id, name: r.key, type: 'number', step: '1', min: '-1', inputmode: 'numeric', required: true,
      value: String(quotas[r.key]?.limit ?? ''), 'aria-describedby': `${id}-hint ${id}-error`,
    });
    inputs[r.key] = input;
    errors[r.key] = h('p', { class: 'field-error', id: `${id}-error` });
    return h('div', { class: 'field' },
      h('label', { for: id }, `${r.label} limit${r.unit ? ` (${r.unit})` : ''}`),
      input,
      h('p', { class: 'hint', id: `${id}-hint` }, '-1 for unlimited.'),
      errors[r.key]);
  });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save limits');
  const form = h('form', { id: 'limits', 'aria-labelledby': 'limits-heading', novalidate: true }, h('div', { class: 'limit-fields' }, fields), h('div', { class: 'actions' }, save), outcome);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    // The API is the judge of a limit (an integer, -1 for unlimited): its 422 comes back per field.
    const body = {};
    for (const r of resources) {
      const raw = inputs[r.key].value.trim();
      body[r.key] = raw === '' ? null : Number(raw);
      inputs[r.key].removeAttribute('aria-invalid');
      fill(errors[r.key]);
    }
    fill(outcome);
    save.disabled = true;
    try {
      const { body: saved } = await api.patch(`/api/v1/admin/tenants/${encodeURIComponent(tenantId)}/quotas`, body);
      ctx.say(`The limits of ${tenantId} are saved.`);
      fill(outcome, h('p', { class: 'ok', role: 'status' }, 'Saved.'), overWarning(saved));
      onSaved(saved);
    } catch (error) {
      let first = null;
      for (const [key, messages] of Object.entries(error.errors || {})) {
        if (!inputs[key]) continue;
        inputs[key].setAttribute('aria-invalid', 'true');
        fill(errors[key], [].concat(messages).join(' '));
        first ||= inputs[key];
      }
      fill(outcome, problem(error));
      (first || save).focus();
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function recountReport(report) {
  const rows = resources.map((r) => h('tr', {},
    h('th', { scope: 'row' }, r.label),
    h('td', { class: 'num' }, format(report.before?.[r.key]?.used)),
    h('td', { class: 'num' }, format(report.after?.[r.key]?.used)),
    h('td', { class: 'num' }, format(report.drift?.[r.key] ?? 0))));
  return h('div', { id: 'recount-report', role: 'status' },
    h('p', {}, report.corrected
      ? `Usage was corrected from the tenant's ${report.resources} linked resources.`
      : `No drift: usage matches the tenant's ${report.resources} linked resources.`),
    h('table', { class: 'compact' },
      h('caption', { class: 'hint' }, 'Used before and after the recount'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Resource'), h('th', { scope: 'col' }, 'Used before'),
        h('th', { scope: 'col' }, 'Used after'), h('th', { scope: 'col' }, 'Drift'))),
      h('tbody', {}, rows)),
    (report.reconciled || []).length
      ? h('div', {}, h('h3', {}, 'Changed by reconciliation'),
        h('ul', {}, report.reconciled.map((x) => h('li', {}, `${x.name} (${x.agentId}): ${x.change}${x.overLimit ? ', over the limit' : ''}, `, time(x.at)))))
      : null);
}

function usersTable(users) {
  if (users.length === 0) return h('p', {}, 'No user in this tenant.');
  return h('table', { id: 'tenant-users' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col' }, 'Roles'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Created'))),
    h('tbody', {}, users.map((u) => h('tr', {},
      h('th', { scope: 'row' }, u.username), h('td', {}, (u.roles || []).join(', ')), h('td', {}, u.disabled ? 'disabled' : 'active'), h('td', {}, time(u.createdAt))))));
}

function resourcesTable(list) {
  const present = list.filter((r) => r.state !== 'gone');
  if (present.length === 0) return h('p', {}, 'No resource yet.');
  return h('table', { id: 'tenant-resources' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col' }, 'Image'), h('th', { scope: 'col' }, 'Charge'), h('th', { scope: 'col' }, 'Created'))),
    h('tbody', {}, present.map((r) => h('tr', {},
      h('th', { scope: 'row' }, r.name), h('td', {}, r.kind), h('td', {}, r.state), h('td', {}, r.agentId), h('td', { class: 'mono' }, r.imageId || '—'),
      h('td', {}, r.charge ? `${r.charge.cpu} vCPU, ${format(r.charge.memoryMB)} MB, ${format(r.charge.storageMB)} MB disk` : '—'),
      h('td', {}, time(r.createdAt))))));
}

export async function render(root, params, ctx) {
  const tenantId = params[0] || ctx.session.tenantId;
  if (!tenantId) {
    fill(root, h('h1', {}, 'Quota'), h('p', {}, 'Quotas are per tenant: ', h('a', { href: '#/tenants' }, 'pick a tenant'), '.'));
    return null;
  }
  const admin = ctx.isAdmin;
  const base = admin ? `/api/v1/admin/tenants/${encodeURIComponent(tenantId)}` : '/api/v1/tenant';
  const usage = h('div', { id: 'quota-bars' });
  const body = h('div');
  fill(root,
    admin ? h('p', {}, h('a', { href: '#/tenants' }, '← Tenants')) : null,
    h('h1', {}, admin ? `Tenant ${tenantId}` : `Quota of ${tenantId}`),
    body);

  let tenant = null;
  let quotas;
  try {
    [tenant, quotas] = await Promise.all([admin ? api.get(base) : null, api.get(`${base}/quotas`)]);
  } catch (error) {
    fill(body, problem(error));
    return null;
  }
  const showUsage = (q) => fill(usage, usageBars(q));
  showUsage(quotas);

  const sections = [
    tenant ? h('dl', { class: 'facts' }, h('dt', {}, 'Name'), h('dd', {}, tenant.name || '—'), h('dt', {}, 'Status'), h('dd', {}, tenant.status),
      h('dt', {}, 'Created'), h('dd', {}, time(tenant.createdAt))) : null,
    h('section', { 'aria-labelledby': 'usage-heading' },
      h('h2', { id: 'usage-heading' }, 'Quota use'),
      h('p', { class: 'hint' }, 'Used by the tenant\'s resources, plus held by its tasks in flight, of the limit.'),
      usage,
      admin ? null : overWarning(quotas)),
  ];
  if (admin) {
    const report = h('div');
    const recount = h('button', { type: 'button', id: 'recount' }, 'Recount usage');
    recount.addEventListener('click', async () => {
      recount.disabled = true;
      try {
        const { body: result } = await api.post(`${base}/quotas/recount`);
        fill(report, recountReport(result));
        if (result.after) showUsage(result.after);
      } catch (error) {
        fill(report, problem(error));
      } finally {
        recount.disabled = false;
      }
    });
    sections.push(
      h('section', { 'aria-labelledby': 'limits-heading' },
        h('h2', { id: 'limits-heading' }, 'Limits'),
        limitsForm(tenantId, quotas, showUsage, ctx)),
      h('section', { 'aria-labelledby': 'recount-heading' },
        h('h2', { id: 'recount-heading' }, 'Recount'),
        h('p', {}, 'Recomputes usage from the tenant\'s linked resources and books the difference as a correction.'),
        h('div', { class: 'actions' }, recount), report));
  }
  const users = admin ? h('div') : null;
  const owned = h('div');
  if (admin) sections.push(h('section', { 'aria-labelledby': 'users-heading' }, h('h2', { id: 'users-heading' }, 'Users'), users));
  sections.push(h('section', { 'aria-labelledby': 'resources-heading' }, h('h2', { id: 'resources-heading' }, 'Resources'), owned));
  fill(body, sections);

  if (admin) {
    api.get(`/api/v1/admin/users?tenantId=${encodeURIComponent(tenantId)}`)
      .then((list) => fill(users, usersTable(list)), (error) => fill(users, problem(error)));
  }
  api.get(`${base}/resources`).then((list) => fill(owned, resourcesTable(list)), (error) => fill(owned, problem(error)));
  return null;
}
