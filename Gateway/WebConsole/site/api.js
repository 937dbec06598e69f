// Calls to the gateway. The session cookie is sent by the browser; the header below is what turns it into a token at the gateway,
// and a page of another site cannot send it. No token ever reaches this script.
const consoleHeader = { 'X-OpenHvx-Console': '1' };

/** A refused call: the API's problem (status, code, detail, field errors). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || null;
    this.errors = problem?.errors || null;
    this.problem = problem;
  }
}

let signedOutHandler = () => {};
/** Called when a call finds the session gone (401). */
export function onSignedOut(handler) { signedOutHandler = handler; }

async function call(method, path, body, extraHeaders) {
  const headers = { ...consoleHeader, Accept: 'application/json', ...extraHeaders };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!response.ok) {
    if (response.status === 401) signedOutHandler();
    throw new ApiError(response.status, json);
  }
  return { status: response.status, headers: response.headers, body: json };
}

export const get = async (path) => (await call('GET', path)).body;
export const post = (path, body, headers) => call('POST', path, body, headers);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

/** The signed-in session ({ user, audience, tenantId, roles, scopes, api }) or null. */
export async function session() {
  try {
    return (await call('GET', '/console/session')).body;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function signOut() {
  await call('POST', '/console/signout');
}

/**
 * Reads a server-sent event stream with fetch (EventSource cannot send the console's header) and calls onEvent({ event, data })
 * for each event; ends when signal aborts. Resolves when the stream ends.
 */
export async function stream(path, onEvent, signal) {
  const response = await fetch(path, { headers: { ...consoleHeader, Accept: 'text/event-stream' }, credentials: 'same-origin', signal });
  if (!response.ok || !response.body) {
    if (response.status === 401) signedOutHandler();
    throw new ApiError(response.status, null);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length === 0) continue;
        let parsed = data.join('\n');
        try { parsed = JSON.parse(parsed); } catch { /* text */ }
        onEvent({ event, data: parsed });
      }
    }
  } catch (e) {
    if (signal?.aborted) return;
    throw e;
  }
}

/** Whether retrying cannot help: the session ended, the caller may not, or the thing is gone. */
export const isTerminal = (error) => error instanceof ApiError && [401, 403, 404].includes(error.status);
