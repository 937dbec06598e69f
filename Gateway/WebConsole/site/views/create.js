// #/create: a vm.create form generated from the OpenAPI document's VmCreateData schema, checked in the browser against the same
// schema (required, pattern, minimum/maximum, lengths, enum, items), the API's 422 field errors put back on their fields, and the
// new task's timeline followed live after 202.
import * as api from '../api.js';
import { h, fill, statusBadge, problem } from '../dom.js';
import { timeline, followTask } from './timeline.js';

/** Fields shown as a line per item (arrays of strings). */
const multiline = (schema) => typesOf(schema).includes('array');

function typesOf(schema) {
  return [].concat(schema?.type ?? []).filter((t) => t !== 'null');
}

function resolve(doc, schema) {
  let s = schema;
  while (s && s.$ref) {
    const path = s.$ref.replace(/^#\//, '').split('/');
    s = path.reduce((node, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return s;
}

/** "storageGB" → "Storage GB", "sshAuthorizedKeys" → "SSH authorized keys" */
function humanize(name) {
  const known = { cpu: 'CPU', ram: 'Memory (RAM)', imageId: 'Image', storageGB: 'Disk size (GB)', sshAuthorizedKeys: 'SSH authorized keys',
    runcmd: 'Commands at first boot', cloudInit: 'Cloud-init', hostname: 'Host name', nameservers: 'Name servers', switch: 'Virtual switch' };
  if (known[name]) return known[name];
  const words = name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// ---- validation of one value against its schema ----

/** A schema pattern the browser cannot compile is left to the API. */
function matches(pattern, value) {
  try { return new RegExp(pattern, 'u').test(value); } catch { return true; }
}

function checkScalar(schema, value) {
  if (schema.oneOf) {
    const failures = schema.oneOf.map((alt) => checkScalar(alt, value));
    if (failures.some((f) => f === null)) return null;
    return `Must be ${schema.oneOf.map((alt) => alt.description || typesOf(alt).join('/')).join(', or ')}.`;
  }
  const types = typesOf(schema);
  if (schema.enum && !schema.enum.some((e) => e === value)) return `Must be one of: ${schema.enum.join(', ')}.`;
  if (types.includes('integer') || types.includes('number')) {
    if (typeof value !== 'number' || Number.isNaN(value)) return 'Must be a number.';
    if (types.includes('integer') && !Number.isInteger(value)) return 'Must be a whole number.';
    const { minimum: min, maximum: max } = schema;
    if (min !== undefined && max !== undefined && (value < min || value > max)) return `Must be from ${min} to ${max}.`;
    if (min !== undefined && value < min) return `Must be at least ${min}.`;
    if (max !== undefined && value > max) return `Must be at most ${max}.`;
    return null;
  }
  if (types.includes('string')) {
    if (typeof value !== 'string') return 'Must be text.';
    if (schema.minLength !== undefined && value.length < schema.minLength) return `Must be at least ${schema.minLength} characters.`;
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return `Must be at most ${schema.maxLength} characters.`;
    if (schema.pattern && !matches(schema.pattern, value)) return `Must match ${schema.pattern}.`;
  }
  return null;
}

/** Reads a field's text as the schema's type (integer fields as numbers; a oneOf takes a number when the text is one). */
function convert(schema, text) {
  const types = typesOf(schema);
  if (schema.oneOf) {
    const numeric = schema.oneOf.find((alt) => typesOf(alt).some((t) => t === 'integer' || t === 'number'));
    return numeric && /^-?\d+$/.test(text) ? Number(text) : text;
  }
  if (types.includes('integer') || types.includes('number')) return /^\s*$/.test(text) ? NaN : Number(text);
  return text;
}

/** Errors of one field's text: null when it is fine (an empty optional field is left out of the request). */
function checkField(field) {
  const raw = field.control.value;
  if (multiline(field.schema)) {
    const lines = raw.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    if (lines.length === 0) return field.required ? 'Required: at least one line.' : null;
    if (field.schema.maxItems !== undefined && lines.length > field.schema.maxItems) return `At most ${field.schema.maxItems} lines.`;
    const items = field.schema.items || {};
    for (let i = 0; i < lines.length; i++) {
      const error = checkScalar(items, lines[i]);
      if (error) return `Line ${i + 1}: ${error}`;
    }
    return null;
  }
  const text = raw.trim();
  if (text === '') return field.required ? 'Required.' : null;
  return checkScalar(field.schema, convert(field.schema, text));
}

function valueOf(field) {
  const raw = field.control.value;
  if (multiline(field.schema)) {
    const lines = raw.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    return lines.length ? lines : undefined;
  }
  const text = raw.trim();
  return text === '' ? undefined : convert(field.schema, text);
}

/** An idempotency key (randomUUID needs a secure context; the random bytes do not). */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---- the form, generated from the schema ----

function fieldId(path) {
  return `f-${path.replace(/[^A-Za-z0-9]+/g, '-')}`;
}

function makeField(path, name, schema, required, special) {
  const id = fieldId(path);
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = `${hintId} ${errorId}`;
  let control;
  if (special) {
    control = special(id, describedBy);
  } else if (schema.enum) {
    control = h('select', { id, name: path, 'aria-describedby': describedBy, required },
      h('option', { value: '' }, required ? 'Choose…' : 'Default'),
      schema.enum.filter((v) => v !== null).map((v) => h('option', { value: String(v) }, String(v))));
  } else if (multiline(schema)) {
    control = h('textarea', { id, name: path, rows: '3', cols: '60', 'aria-describedby': describedBy, spellcheck: 'false' });
  } else {
    const numeric = typesOf(schema).some((t) => t === 'integer' || t === 'number');
    control = h('input', {
      id, name: path, type: numeric ? 'number' : 'text', inputmode: numeric ? 'numeric' : null, step: numeric ? '1' : null,
      min: schema.minimum, max: schema.maximum, maxlength: schema.maxLength, required, autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': describedBy, placeholder: schema.examples?.[0] ?? schema.oneOf?.find((a) => a.examples)?.examples?.[0],
    });
  }
  const hint = [schema.description, multiline(schema) ? 'One per line.' : null].filter(Boolean).join(' ');
  const error = h('p', { class: 'field-error', id: errorId });
  const element = h('div', { class: 'field', dataset: { path } },
    h('label', { for: id }, humanize(name), required
      ? h('span', { class: 'required' }, path.includes('.') ? ` (required with ${humanize(path.split('.').slice(-2)[0]).toLowerCase()})` : ' (required)')
      : null),
    control,
    h('p', { class: 'hint', id: hintId }, hint),
    error);
  return { path, name, schema, required, control, error, element };
}

/** The controls of an object schema: a field per scalar or list member, a fieldset per nested object. */
function buildObject(doc, schema, prefix, fields, specials) {
  const required = new Set(schema.required || []);
  const out = [];
  for (const [name, raw] of Object.entries(schema.properties || {})) {
    const member = resolve(doc, raw);
    const path = prefix ? `${prefix}.${name}` : name;
    if (typesOf(member).includes('object') && member.properties) {
      const children = buildObject(doc, member, path, fields, specials);
      out.push(h('fieldset', { class: 'group', dataset: { path } },
        h('legend', {}, humanize(name)),
        member.description ? h('p', { class: 'hint' }, member.description) : null,
        children));
      continue;
    }
    const field = makeField(path, name, member, required.has(name), specials[path]);
    field.parent = prefix;
    fields.push(field);
    out.push(field.element);
  }
  return out;
}

/** The data object from the fields: empty fields left out, a nested object only when one of its fields is filled. */
function collect(fields) {
  const data = {};
  for (const field of fields) {
    const value = valueOf(field);
    if (value === undefined) continue;
    const keys = field.path.split('.');
    let node = data;
    for (const key of keys.slice(0, -1)) node = (node[key] ||= {});
    node[keys[keys.length - 1]] = value;
  }
  return data;
}

function setError(field, message) {
  if (message) {
    field.control.setAttribute('aria-invalid', 'true');
    fill(field.error, message);
  } else {
    field.control.removeAttribute('aria-invalid');
    fill(field.error);
  }
}

/** Client-side checks: each field; a nested object's required members only when something of that object is filled. */
function validate(fields) {
  const filledPrefixes = new Set();
  for (const field of fields) {
    if (valueOf(field) === undefined) continue;
    const parts = field.path.split('.');
    for (let i = 1; i < parts.length; i++) filledPrefixes.add(parts.slice(0, i).join('.'));
  }
  const invalid = [];
  for (const field of fields) {
    const activeParent = !field.parent || filledPrefixes.has(field.parent);
    const required = field.required && activeParent;
    const message = checkField({ ...field, required });
    setError(field, message);
    if (message) invalid.push(field);
  }
  return invalid;
}

export async function render(root, params, ctx) {
  fill(root, h('h1', {}, 'Create a VM'), h('p', {}, 'Loading the form…'));
  const specDoc = await fetch('/openapi/v1.json', { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then((r) => {
    if (!r.ok) throw new Error(`The API description could not be read (HTTP ${r.status}).`);
    return r.json();
  });
  const schema = resolve(specDoc, specDoc.components?.schemas?.VmCreateData);
  if (!schema) throw new Error('The API description has no VmCreateData schema.');
  const [images, tenants] = await Promise.all([
    api.get(`${ctx.api}/images`).catch(() => []),
    ctx.isAdmin ? api.get('/api/v1/admin/tenants') : Promise.resolve(null),
  ]);

  const specials = {
    imageId: (id, describedBy) => h('select', { id, name: 'imageId', 'aria-describedby': describedBy },
      h('option', { value: '' }, `Default image${images.find((i) => i.isDefault) ? ` (${images.find((i) => i.isDefault).imageId})` : ''}`),
      images.map((i) => h('option', { value: i.imageId },
        `${i.name} ${i.version} — generation ${i.generation}, at least ${i.minStorageGB} GB${i.isDefault ? ' (default)' : ''}`))),
  };
  const fields = [];
  const controls = buildObject(specDoc, schema, '', fields, specials);

  // The tenant (admins name it; a tenant user acts in their own).
  let tenantField = null;
  if (ctx.isAdmin) {
    const id = 'f-tenantId';
    const control = h('select', { id, name: 'tenantId', required: true, 'aria-describedby': `${id}-hint ${id}-error` },
      h('option', { value: '' }, 'Choose a tenant'),
      (tenants || []).map((t) => h('option', { value: t.tenantId, disabled: t.status !== 'active' }, `${t.tenantId}${t.name ? ` — ${t.name}` : ''}${t.status !== 'active' ? ` (${t.status})` : ''}`)));
    if ((tenants || []).filter((t) => t.status === 'active').length === 1) control.value = tenants.find((t) => t.status === 'active').tenantId;
    const error = h('p', { class: 'field-error', id: `${id}-error` });
    tenantField = { path: 'tenantId', control, error, required: true, schema: { type: 'string' },
      element: h('div', { class: 'field' }, h('label', { for: id }, 'Tenant', h('span', { class: 'required' }, ' (required)')), control,
        h('p', { class: 'hint', id: `${id}-hint` }, 'The tenant the VM belongs to and whose quota it uses.'), error) };
  }

  const submit = h('button', { type: 'submit', class: 'primary', disabled: !ctx.canWrite }, 'Create the VM');
  const summary = h('div', { id: 'create-problem' });
  const taskSection = h('section', { id: 'create-task', 'aria-labelledby': 'create-task-heading', hidden: true });
  const form = h('form', { id: 'create-form', novalidate: true, 'aria-describedby': 'create-intro' },
    tenantField?.element, controls, summary, h('div', { class: 'actions' }, submit));
  fill(root,
    h('h1', {}, 'Create a VM'),
    h('p', { id: 'create-intro' }, schema.description || ''),
    ctx.canWrite ? null : h('p', { class: 'alert' }, 'Your role can read only: it cannot create VMs.'),
    form,
    taskSection);

  const all = tenantField ? [tenantField, ...fields] : fields;
  for (const field of all) {
    // A field's message is updated as it changes once it has been shown.
    field.control.addEventListener('change', () => {
      if (field.control.getAttribute('aria-invalid') === 'true') {
        if (field === tenantField) setError(field, field.control.value ? null : 'Required.');
        else validate(fields);
      }
    });
  }

  let stop = null;
  let attempt = null;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fill(summary);
    const invalid = validate(fields);
    if (tenantField) {
      const message = tenantField.control.value ? null : 'Required.';
      setError(tenantField, message);
      if (message) invalid.unshift(tenantField);
    }
    if (invalid.length) {
      fill(summary, h('div', { class: 'alert', role: 'alert' },
        h('strong', {}, `${invalid.length === 1 ? 'One field needs' : `${invalid.length} fields need`} a change: `),
        h('ul', {}, invalid.map((f) => h('li', {}, h('a', { href: `#${f.control.id}`, onclick: (e) => { e.preventDefault(); f.control.focus(); } },
          f.control.labels?.[0]?.firstChild?.textContent || f.path), ` — ${f.error.textContent}`)))));
      invalid[0].control.focus();
      return;
    }
    const data = collect(fields);
    const body = { action: 'vm.create', data };
    if (tenantField) body.tenantId = tenantField.control.value;
    // The same key while the same body is retried (a double click or a lost answer creates one task).
    const key = JSON.stringify(body);
    if (!attempt || attempt.key !== key) attempt = { key, id: newKey() };
    submit.disabled = true;
    try {
      const { body: accepted } = await api.post(`${ctx.api}/tasks`, body, { 'Idempotency-Key': attempt.id });
      attempt = null;
      showTask(accepted);
    } catch (error) {
      let first = null;
      for (const [key2, messages] of Object.entries(error.errors || {})) {
        const path = key2.replace(/^data\./, '');
        const field = all.find((f) => f.path === path);
        if (!field) continue;
        setError(field, [].concat(messages).join(' '));
        first ||= field;
      }
      if (error.code === 'ERR_NAME_TAKEN') { const f = fields.find((x) => x.path === 'name'); setError(f, error.message); first ||= f; }
      if (error.code === 'ERR_IMAGE_NOT_FOUND') { const f = fields.find((x) => x.path === 'imageId'); setError(f, error.message); first ||= f; }
      fill(summary, problem(error));
      (first?.control || summary).focus?.();
    } finally {
      submit.disabled = !ctx.canWrite;
    }
  });

  function showTask(accepted) {
    if (stop) stop();
    const heading = h('h2', { id: 'create-task-heading', tabindex: '-1' }, 'Task ', h('span', { class: 'mono' }, accepted.taskId));
    const status = h('span', { id: 'task-status' }, statusBadge(accepted.status));
    const line = h('div', { id: 'create-timeline' }, h('p', {}, 'Waiting for the timeline…'));
    const result = h('div', { id: 'create-result' });
    fill(taskSection, heading,
      h('p', {}, 'Status: ', status, ' · ', h('a', { href: `#/tasks/${encodeURIComponent(accepted.taskId)}`, id: 'task-link' }, 'Open the task')),
      line, result);
    taskSection.hidden = false;
    heading.focus();
    ctx.say(`Task ${accepted.taskId} accepted.`);
    stop = followTask(ctx, accepted.taskId, (task) => {
      fill(status, statusBadge(task.status));
      fill(line, timeline(task));
      if (task.status === 'SUCCESS') {
        fill(result, h('p', { class: 'ok' }, `The VM ${task.data?.name ?? ''} is created${task.agentId ? ` on ${task.agentId}` : ''}.`));
        ctx.say(`Task ${task.taskId}: SUCCESS.`);
      } else if (task.status === 'FAILED') {
        fill(result, problem({ code: task.error?.code, message: task.error?.message || 'The task failed.' }));
        ctx.say(`Task ${task.taskId}: FAILED.`);
      }
    });
  }

  return () => { if (stop) stop(); };
}
