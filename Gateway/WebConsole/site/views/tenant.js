import { h, fill } from '../dom.js';

export async function render(root, params, ctx) {
  fill(root, h('h1', {}, 'tenant'), h('p', {}, 'Not built yet.'));
}
