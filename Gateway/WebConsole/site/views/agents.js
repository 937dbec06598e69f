// #/agents (admins): each agent's liveness, admin status, capacity and what is free, tasks in flight, VMs; drain and resume.
import * as api from '../api.js';
import { h, fill, bar, age, time, problem } from '../dom.js';

const refreshEvery = 5000;
/** Tasks of an agent not yet final; "100+" when the page is full. */
async function tasksInFlight(agentId) {
  const page = await api.get(`/api/v1/admin/tasks?agentId=${encodeURIComponent(agentId)}&inFlight=true&limit=100`);
  const total = (page?.items || []).length;
  return page?.nextOffset !== null && page?.nextOffset !== undefined ? `${total}+` : total;
}

function used(capacity, free, key) {
  if (!capacity || !free) return 0;
  return Math.max(0, (capacity[key] ?? 0) - (free[key] ?? 0));
}

/** One agent's card; its buttons stay the same elements across refreshes so keyboard focus is kept. */
function makeCard(agentId, ctx, refresh) {
  const headingId = `agent-${agentId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const state = h('p', { class: 'agent-state' });
  const facts = h('dl', { class: 'facts' });
  const bars = h('div', { class: 'agent-bars' });
  const message = h('div', { class: 'agent-message' });
  const setStatus = async (status, other) => {
    drain.disabled = true;
    resume.disabled = true;
    fill(message);
    try {
      await api.patch(`/api/v1/admin/agents/${encodeURIComponent(agentId)}`, { status });
      ctx.say(status === 'draining'
        ? `${agentId} is draining: it is elected for no new task; its tasks in flight finish.`
        : `${agentId} is active again: it can be elected for new tasks.`);
      await refresh();
      other.focus();
    } catch (error) {
      fill(message, problem(error));
      await refresh().catch(() => {});
    }
  };
  const drain = h('button', { type: 'button', class: 'danger', 'aria-describedby': headingId, onclick: () => setStatus('draining', resume) }, 'Drain');
  const resume = h('button', { type: 'button', class: 'primary', 'aria-describedby': headingId, onclick: () => setStatus('active', drain) }, 'Resume');
  const element = h('section', { class: 'card agent', 'aria-labelledby': headingId, dataset: { agentId } },
    h('h2', { id: headingId }, agentId), state, facts, bars, h('div', { class: 'actions' }, drain, resume), message);

  const update = (agent, inFlight) => {
    const draining = agent.status !== 'active';
    fill(state,
      h('span', { class: `badge ${agent.online ? 'badge-online' : 'badge-offline'}`, dataset: { field: 'online' } }, agent.online ? 'online' : 'offline'),
      ' ',
      h('span', { class: `badge badge-agent-${String(agent.status).toLowerCase()}`, dataset: { field: 'status' } }, agent.status),
      agent.offlineReason ? h('span', { class: 'hint' }, ` ${agent.offlineReason}`) : null);
    fill(facts,
      h('dt', {}, 'Host'), h('dd', {}, agent.host),
      h('dt', {}, 'Version'), h('dd', { class: 'mono' }, agent.version),
      h('dt', {}, 'Last heartbeat'), h('dd', {}, `${age(agent.heartbeatAgeSeconds)} ago (`, time(agent.lastHeartbeatAt), ')'),
      h('dt', {}, 'Tasks in flight'), h('dd', { dataset: { field: 'in-flight' } },
        h('a', { href: `#/tasks?agentId=${encodeURIComponent(agent.agentId)}&stuck=1&olderThanSeconds=0` }, String(inFlight))),
      h('dt', {}, 'VMs'), h('dd', { dataset: { field: 'vm-count' } }, String(agent.vmCount)),
      h('dt', {}, 'Capabilities'), h('dd', {}, (agent.capabilities || []).join(', ') || '—'));
    const c = agent.capacity;
    const held = agent.inFlightHolds || {};
    fill(bars, c
      ? [
        bar('CPU', used(c, agent.free, 'cpu'), c.cpu, held.cpu || 0, 'vCPU'),
        bar('Memory', used(c, agent.free, 'memoryMB'), c.memoryMB, held.memoryMB || 0, 'MB'),
        bar('Storage', used(c, agent.free, 'storageMB'), c.storageMB, held.storageMB || 0, 'MB'),
      ]
      : h('p', { class: 'hint' }, 'No capacity reported yet.'));
    drain.disabled = draining;
    resume.disabled = !draining;
  };
  return { element, update };
}

export async function render(root, params, ctx) {
  const list = h('div', { class: 'cards', id: 'agents' });
  const updated = h('p', { class: 'hint', id: 'agents-updated' });
  const error = h('div');
  fill(root,
    h('h1', {}, 'Agents'),
    h('p', {}, 'A draining agent is elected for no new task; its tasks in flight finish. Used capacity is what its heartbeats report, held is what tasks placed on it take that they do not show yet.'),
    updated, error, list);

  const cards = new Map();
  let timer = null;
  let stopped = false;
  const refresh = async () => {
    const agents = await api.get('/api/v1/admin/agents');
    const inFlight = await Promise.all(agents.map((a) => tasksInFlight(a.agentId).catch(() => '—')));
    if (stopped) return;
    if (agents.length === 0) fill(list, h('p', {}, 'No agent has registered yet.'));
    else if (cards.size === 0) list.replaceChildren();
    agents.forEach((agent, i) => {
      let card = cards.get(agent.agentId);
      if (!card) {
        card = makeCard(agent.agentId, ctx, refresh);
        cards.set(agent.agentId, card);
        list.append(card.element);
      }
      card.update(agent, inFlight[i]);
    });
    for (const [id, card] of cards) {
      if (!agents.some((a) => a.agentId === id)) { card.element.remove(); cards.delete(id); }
    }
    fill(updated, 'Updated ', time(new Date().toISOString()), `, every ${refreshEvery / 1000} s.`);
    fill(error);
  };
  const tick = async () => {
    // A hidden tab asks nothing; it catches up when shown again.
    if (!document.hidden) {
      try { await refresh(); } catch (e) {
        if (api.isTerminal(e)) { stopped = true; return; }
        if (!stopped) fill(error, problem(e));
      }
    }
    if (!stopped) timer = setTimeout(tick, refreshEvery);
  };
  await tick();
  return () => { stopped = true; clearTimeout(timer); };
}
