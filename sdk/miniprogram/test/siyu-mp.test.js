// The mini-program SDK under node's test runner, in a simulated wx runtime (fake-wx.js).
// Run: node --test sdk/miniprogram/test/   (tests/e2e/test_sdk_node.py runs it from make test,
// with SIYU_MP_HOST set so the last test sends to a real siyu over HTTP).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { create } = require('../siyu-mp.js');
const { fakeRuntime, tick } = require('./fake-wx.js');

function start(rt, extra) {
  const siyu = create({ wx: rt.wx, App: rt.App, Page: rt.Page });
  siyu.init(Object.assign({ writeKey: 'wk_test', host: 'https://collect.example.com/', flushInterval: 20, backoff: 10, maxBackoff: 40 }, extra));
  return siyu;
}

async function drain(siyu, rt) {
  for (let i = 0; i < 100 && rt.queued().length; i++) {
    await siyu.flush();
    await tick(5);
  }
  assert.deepEqual(rt.queued(), [], 'the queue did not drain');
}

function label(m) {
  return m.type === 'track' ? m.event : `${m.type}:${m.name || ''}`;
}

test('launch, page show and hide with dwell, taps, background and return', async () => {
  const rt = fakeRuntime();
  const siyu = start(rt);
  let launched = false;
  siyu.App({ onLaunch() { launched = true; }, globalData: { a: 1 } });
  const app = rt.apps[0];
  assert.deepEqual(app.globalData, { a: 1 });
  app.onLaunch({ scene: 1047, path: 'pages/goods/goods', query: { scene: encodeURIComponent('store 42'), utm_source: 'mp-code' } });
  app.onShow({ scene: 1047 });
  assert.equal(launched, true, 'the host onLaunch ran');
  let tappedOn = null;
  siyu.Page({
    data: {},
    onBuyTap() { tappedOn = this.route; return 'bought'; },
    onPhoneInput() { return 'typed'; }
  });
  const page = rt.openPage(0, 'pages/goods/goods', { sku: 'T01' });
  assert.equal(page.onBuyTap({ type: 'tap', currentTarget: { id: 'buy', dataset: { siyu: 'buy-now', sku: 'T01' } } }), 'bought');
  assert.equal(page.onPhoneInput({ type: 'input', detail: { value: '13800138000' } }), 'typed');
  assert.equal(tappedOn, 'pages/goods/goods', 'the handler keeps its this');
  await tick(30);
  page.onHide();
  page.onUnload(); // hide then unload: one Page Left
  app.onHide();
  app.onShow({ scene: 1001, path: 'pages/goods/goods' });
  await drain(siyu, rt);

  const sent = rt.sent();
  assert.deepEqual(sent.map(label), [
    'Application Opened', 'screen:pages/goods/goods', 'Element Tapped', 'Page Left',
    'Application Backgrounded', 'Application Opened'
  ]);
  assert.deepEqual(sent[0].properties, { from_background: false, scene: 1047, path: 'pages/goods/goods', query: { scene: 'store%2042', utm_source: 'mp-code' } });
  assert.equal(sent[5].properties.from_background, true);
  assert.equal(sent[5].properties.scene, 1001);
  assert.deepEqual(sent[1].properties, { path: 'pages/goods/goods', query: { sku: 'T01' } });
  assert.deepEqual(sent[2].properties, { handler: 'onBuyTap', path: 'pages/goods/goods', id: 'buy', label: 'buy-now', dataset: { siyu: 'buy-now', sku: 'T01' } });
  assert.ok(sent[3].properties.dwell_ms >= 25, `dwell ${sent[3].properties.dwell_ms}`);
  const campaign = { source: 'mp-code', scene: 'store 42', medium: 'live_code', content: 'store 42' };
  for (const m of sent) {
    assert.deepEqual(m.context.campaign, campaign);
    assert.equal(m.anonymousId, siyu.anonymousId());
    assert.equal(m.context.library.name, 'siyu-mp');
    assert.equal(m.context.app.appId, 'wxTEST');
    assert.equal(m.context.os.name, 'ios');
    assert.ok(!Number.isNaN(Date.parse(m.timestamp)));
  }
  assert.equal(new Set(sent.map((m) => m.messageId)).size, sent.length);
  assert.ok(!JSON.stringify(rt.requests.map((r) => r.data)).includes('13800138000'));
  const request = rt.requests[0];
  assert.equal(request.url, 'https://collect.example.com/v1/batch');
  assert.equal(request.method, 'POST');
  assert.equal(request.data.writeKey, 'wk_test');
  assert.ok(!Number.isNaN(Date.parse(request.data.sentAt)));
});

test('openid and unionid ride on every message once known, and survive a restart', async () => {
  const rt = fakeRuntime();
  const siyu = start(rt);
  siyu.track('Before Login');
  siyu.setWechatIds({ openid: 'o1' });
  siyu.setWechatIds({ openid: 'o1' }); // nothing new: no second identify
  siyu.setWechatIds({ unionid: 'u1' });
  siyu.track('After Login');
  await drain(siyu, rt);
  const sent = rt.sent();
  assert.deepEqual(sent.map(label), ['Before Login', 'identify:', 'identify:', 'After Login']);
  assert.equal(sent[0].context.externalIds, undefined);
  assert.deepEqual(sent[1].context.externalIds, [{ id: 'o1', type: 'mp_openid', collection: 'wxTEST', encoding: 'none' }]);
  const both = [
    { id: 'o1', type: 'mp_openid', collection: 'wxTEST', encoding: 'none' },
    { id: 'u1', type: 'unionid', encoding: 'none' }
  ];
  assert.deepEqual(sent[2].context.externalIds, both);
  assert.deepEqual(sent[2].traits, { unionid: 'u1' });
  assert.deepEqual(sent[3].context.externalIds, both);

  const again = fakeRuntime({ storage: rt.storage });
  const restarted = start(again);
  restarted.identify('member-9', { nickname: '阿茶' });
  await drain(restarted, again);
  const [identify] = again.sent();
  assert.deepEqual(identify.context.externalIds, both);
  assert.equal(identify.userId, 'member-9');
  assert.equal(identify.anonymousId, siyu.anonymousId(), 'the anonymous id is kept in storage');
});

test('batches by size and by time', async () => {
  const rt = fakeRuntime();
  const siyu = start(rt, { flushAt: 3, flushInterval: 80 });
  await drain(siyu, rt); // nothing queued yet: no request
  assert.equal(rt.requests.length, 0);
  siyu.track('A');
  siyu.track('B');
  await tick(10);
  assert.equal(rt.requests.length, 0, 'two messages wait for the batch');
  siyu.track('C');
  await tick(10);
  assert.equal(rt.requests.length, 1);
  assert.deepEqual(rt.requests[0].data.batch.map(label), ['A', 'B', 'C']);
  siyu.track('D');
  await tick(20);
  assert.equal(rt.requests.length, 1, 'D waits for the interval');
  await tick(120);
  assert.equal(rt.requests.length, 2);
  assert.deepEqual(rt.requests[1].data.batch.map(label), ['D']);
});

test('offline: the queue stays in storage, survives a restart and is sent once back', async () => {
  const rt = fakeRuntime({ respond: 'fail' });
  const siyu = start(rt);
  siyu.track('Offline A');
  siyu.track('Offline B');
  await tick(60);
  assert.ok(rt.requests.length >= 1, 'it tried');
  const queued = rt.queued().map((m) => m.messageId);
  assert.equal(queued.length, 2);
  // The mini program is killed; next launch the network is back.
  const back = fakeRuntime({ storage: rt.storage });
  const restarted = start(back);
  await drain(restarted, back);
  assert.deepEqual(back.sent().map((m) => m.messageId), queued);
});

test('retries 5xx with growing backoff, drops what the server refuses for good', async () => {
  const answers = [500, 503, 200];
  const at = [];
  const rt = fakeRuntime({ respond: () => { at.push(Date.now()); return answers.shift() || 200; } });
  const siyu = start(rt, { backoff: 20, maxBackoff: 200 });
  siyu.track('Retried');
  for (let i = 0; i < 60 && rt.queued().length; i++) await tick(10);
  assert.deepEqual(rt.queued(), []);
  assert.equal(rt.requests.length, 3);
  const ids = rt.requests.map((r) => r.data.batch[0].messageId);
  assert.equal(new Set(ids).size, 1, 'the same messageId every time (server-side dedupe)');
  assert.ok(at[1] - at[0] >= 10 && at[2] - at[1] >= 20, `waits ${at[1] - at[0]}, ${at[2] - at[1]}`);

  const refused = fakeRuntime({ respond: 400 });
  const other = start(refused);
  other.track('Bad');
  await tick(60);
  assert.equal(refused.requests.length, 1, 'a 400 is not retried');
  assert.deepEqual(refused.queued(), []);
});

test('back online flushes at once', async () => {
  const rt = fakeRuntime({ respond: 'fail' });
  const siyu = start(rt, { backoff: 5000, maxBackoff: 5000 });
  siyu.track('Waiting');
  await tick(40);
  const tries = rt.requests.length;
  rt.respond = 200;
  rt.setOnline(true);
  await tick(20);
  assert.equal(rt.requests.length, tries + 1);
  assert.deepEqual(rt.queued(), []);
});

test('never throws into the mini program', async () => {
  const rt = fakeRuntime();
  const early = create({ wx: rt.wx, App: rt.App, Page: rt.Page });
  early.track('Before Init'); // kept until init
  early.init({ writeKey: 'wk_test', host: 'https://collect.example.com', flushInterval: 10 });
  const cyclic = {};
  cyclic.self = cyclic;
  early.track('Cyclic', cyclic);
  early.track();
  early.alias();
  rt.storageBroken = true;
  early.track('Storage Full');
  rt.storageBroken = false;
  rt.wx.getSystemInfoSync = () => { throw new Error('not supported'); };
  rt.wx.request = () => { throw new Error('request broken'); };
  early.track('Request Broken');
  await tick(40);
  early.Page(null);
  assert.equal(rt.pages.length, 1, 'a page registers whatever the SDK thinks of it');
  let ran = false;
  early.Page({ onShow() { ran = true; } });
  const page = rt.openPage(1, 'pages/a/a');
  assert.equal(ran, true);
  page.onHide();
  const unconfigured = create({ wx: rt.wx, App: rt.App, Page: rt.Page });
  unconfigured.init({}); // missing writeKey: a warning, no throw
  assert.equal(unconfigured.flush() instanceof Promise, true);
  assert.ok(rt.sent().some((m) => m.event === 'Before Init'), 'a call before init is sent after it');
  assert.ok(rt.queued().some((m) => m.event === 'Request Broken'), 'kept while wx.request throws');
  assert.ok(!rt.queued().concat(rt.sent()).some((m) => m.event === 'Cyclic'));
});

test('against a real siyu over HTTP', { skip: !process.env.SIYU_MP_HOST && 'SIYU_MP_HOST is not set' }, async () => {
  const rt = fakeRuntime({
    respond: async (req) => {
      const response = await fetch(req.url, { method: 'POST', headers: req.header, body: JSON.stringify(req.data) });
      return response.status;
    }
  });
  const siyu = start(rt, { host: process.env.SIYU_MP_HOST, writeKey: process.env.SIYU_MP_WRITE_KEY, appId: 'wxE2E', flushAt: 3 });
  siyu.App({});
  rt.apps[0].onLaunch({ scene: 1047, path: 'pages/index/index', query: { scene: 'store42' } });
  siyu.Page({ onBuyTap() {} });
  const page = rt.openPage(0, 'pages/index/index');
  page.onBuyTap({ type: 'tap', currentTarget: { id: 'buy', dataset: {} } });
  siyu.setWechatIds({ openid: 'o-e2e', unionid: 'u-e2e' });
  page.onHide();
  await drain(siyu, rt);
  assert.ok(rt.requests.length >= 2);
  if (process.env.SIYU_MP_OUT) fs.writeFileSync(process.env.SIYU_MP_OUT, siyu.anonymousId());
});
