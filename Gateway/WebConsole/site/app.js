// The console's shell: who is signed in, the navigation, and a view per route (#/tasks, #/tasks/<id>, #/agents, ...).
import * as api from './api.js';
import { h, fill, problem } from './dom.js';

const routes = [
  { pattern: /^#\/tasks\/([^/]+)$/, route: 'tasks', load: () => import('./views/task.js') },
  { pattern: /^#\/tasks(?:\?[^#]*)?$/, route: 'tasks', load: () => import('./views/tasks.js') },
  { pattern: /^#\/agents$/, route: 'agents', admin: true, load: () => import('./views/agents.js') },
  { pattern: /^#\/tenants\/([^/]+)$/, route: 'tenants', admin: true, load: () => import('./views/tenant.js') },
  { pattern: /^#\/tenants$/, route: 'tenants', admin: true, load: () => import('./views/tenants.js') },
  { pattern: /^#\/quota$/, route: 'quota', load: () => import('./views/tenant.js') },
  { pattern: /^#\/create$/, route: 'create', load: () => import('./views/create.js') },
];

const view = document.getElementById('view');
const status = document.getElementById('status');
let cleanup = null;
let context = null;
// Each navigation's number: a view that finishes loading after the next navigation began is stopped, never shown.
let navigation = 0;

/** What every view gets: the session, the API it uses ('/api/v1/admin' or '/api/v1/tenant'), and a status line. */
function makeContext(session) {
  return {
    session,
    api: session.api,
    isAdmin: session.audience === 'admin',
    canWrite: session.audience === 'admin' || session.scopes.includes('openhvx.write'),
    say: (message) => { status.textContent = message; },
  };
}

function stopView() {
  navigation += 1;
  if (cleanup) { try { cleanup(); } catch { /* view gone */ } cleanup = null; }
}

/** Route parameters, decoded; null when one is malformed or a path step ('.', '..'). */
function paramsOf(hash, pattern) {
  try {
    const params = hash.match(pattern).slice(1).map((p) => decodeURIComponent(p.split('?')[0]));
    return params.some((p) => p === '.' || p === '..' || p === '') ? null : params;
  } catch {
    return null;
  }
}

async function show(focus) {
  stopView();
  const current = navigation;
  const hash = location.hash || '#/tasks';
  const match = routes.find((r) => r.pattern.test(hash) && (!r.admin || context.isAdmin));
  for (const link of document.querySelectorAll('#nav a')) {
    if (match && link.dataset.route === match.route) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const params = match ? paramsOf(hash, match.pattern) : null;
  if (!match || !params) {
    fill(view, h('h1', {}, 'Not found'), h('p', {}, 'This page does not exist. ', h('a', { href: '#/tasks' }, 'Go to the tasks.')));
    if (focus) view.focus();
    return;
  }
  // Each view draws into a container of its own: one left behind by a newer navigation draws nowhere visible.
  const container = h('div', { class: 'view-content' }, h('p', {}, 'Loading…'));
  fill(view, container);
  view.setAttribute('aria-busy', 'true');
  try {
    const module = await match.load();
    if (current !== navigation) return;
    const stop = (await module.render(container, params, context)) || null;
    if (current !== navigation) {
      if (stop) stop();
      return;
    }
    cleanup = stop;
  } catch (error) {
    if (current === navigation) fill(container, h('h1', {}, 'Something went wrong'), problem(error));
  } finally {
    if (current === navigation) {
      view.removeAttribute('aria-busy');
      if (focus) view.focus();
    }
  }
}

function showSignIn() {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  fill(view,
    h('h1', {}, 'OpenHvx console'),
    h('p', {}, 'Tasks, agents and quotas of your OpenHvx estate.'),
    new URLSearchParams(location.search).has('signin')
      ? h('p', { class: 'alert', role: 'alert' }, 'The sign-in did not complete. Please sign in again.') : null,
    h('p', {}, h('a', { class: 'button', href: '/console/signin', id: 'sign-in' }, 'Sign in')));
}

async function start() {
  const session = await api.session();
  if (!session) {
    showSignIn();
    return;
  }
  context = makeContext(session);
  document.getElementById('who-name').textContent = session.tenantId ? `${session.user} (${session.tenantId})` : session.user;
  document.getElementById('who').hidden = false;
  const nav = document.getElementById('nav');
  for (const item of nav.querySelectorAll('[data-audience]')) item.hidden = item.dataset.audience !== session.audience;
  nav.hidden = false;
  document.getElementById('sign-out').addEventListener('click', async () => {
    stopView();
    try {
      await api.signOut();
    } catch {
      /* the gateway removes the cookie whatever happens; show the start page anyway */
    }
    location.hash = '';
    location.reload();
  });
  let signedOut = false;
  api.onSignedOut(() => {
    if (signedOut) return;
    signedOut = true;
    stopView();
    context.say('Your session has ended: sign in again.');
    showSignIn();
  });
  window.addEventListener('hashchange', () => { if (!signedOut) show(true); });
  await show(false);
}

start().catch((error) => fill(view, h('h1', {}, 'The console could not start'), problem(error)));
