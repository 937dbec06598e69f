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

async function show() {
  if (cleanup) { try { cleanup(); } catch { /* view gone */ } cleanup = null; }
  const hash = location.hash || '#/tasks';
  const match = routes.find((r) => r.pattern.test(hash) && (!r.admin || context.isAdmin));
  for (const link of document.querySelectorAll('#nav a')) {
    if (match && link.dataset.route === match.route) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!match) {
    fill(view, h('h1', {}, 'Not found'), h('p', {}, 'This page does not exist. ', h('a', { href: '#/tasks' }, 'Go to the tasks.')));
    return;
  }
  const params = hash.match(match.pattern).slice(1).map(decodeURIComponent);
  fill(view, h('p', {}, 'Loading…'));
  view.setAttribute('aria-busy', 'true');
  try {
    const module = await match.load();
    cleanup = (await module.render(view, params, context)) || null;
  } catch (error) {
    fill(view, h('h1', {}, 'Something went wrong'), problem(error));
  } finally {
    view.removeAttribute('aria-busy');
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
    await api.signOut();
    location.hash = '';
    location.reload();
  });
  api.onSignedOut(() => { context.say('Your session has ended: sign in again.'); showSignIn(); });
  window.addEventListener('hashchange', () => { show(); view.focus(); });
  await show();
}

start().catch((error) => fill(view, h('h1', {}, 'The console could not start'), problem(error)));
