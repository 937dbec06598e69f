import { h, fill } from '../dom.js';

export async function render(root, params, ctx) {
  fill(root, h('h1', {}, 'task'), h('p', {}, 'Not built yet.'));
}
