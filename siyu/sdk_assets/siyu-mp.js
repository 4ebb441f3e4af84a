/*
 * siyu-mp.js — the WeChat mini-program SDK of siyu (私域).
 *
 * The same Segment-compatible collect spec as siyu.js, sent with wx.request to
 * `<host>/v1/batch` (add the host to the mini program's request domains). Messages carry a
 * `messageId` (the server dedupes on it, so every retry is safe) and batches a `sentAt`.
 * Once known, the openid and unionid ride on every message as context.externalIds
 * (`mp_openid` with the appid as collection, and `unionid`), which is how siyu links them.
 *
 *   // app.js
 *   const siyu = require('./siyu-mp.js');
 *   siyu.init({ writeKey: 'wk_…', host: 'https://collect.example.com' });
 *   siyu.App({ onLaunch() { … } });         // instead of App({...})
 *   // pages/x/x.js
 *   siyu.Page({ onBuyTap(e) { … } });       // instead of Page({...})
 *
 * Docs: docs/sdk.md. Never throws into the mini program: every SDK path is wrapped.
 */
'use strict';

var VERSION = '1.0.0';
var P = 'siyu_';
var APP_HOOKS = { onLaunch: 1, onShow: 1, onHide: 1, onError: 1, onPageNotFound: 1, onUnhandledRejection: 1, onThemeChange: 1 };
var PAGE_HOOKS = { onLoad: 1, onShow: 1, onReady: 1, onHide: 1, onUnload: 1, onPullDownRefresh: 1, onReachBottom: 1, onShareAppMessage: 1, onShareTimeline: 1, onAddToFavorites: 1, onPageScroll: 1, onResize: 1, onTabItemTap: 1, onSaveExitState: 1 };

function create(env) {
  env = env || {};
  var g = typeof globalThis !== 'undefined' ? globalThis : {};
  var wx = env.wx || g.wx;
  var realApp = env.App || g.App;
  var realPage = env.Page || g.Page;
  var cfg = null;
  var timer = 0;
  var inflight = null;
  var attempt = 0;
  var retryAt = 0;
  var pending = [];
  var user = { aid: '', uid: null, ids: {} };
  var hidden = false;

  function log() {
    if (cfg && cfg.debug && typeof console !== 'undefined') console.warn.apply(console, arguments);
  }

  function safe(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (e) {
        log('siyu:', e);
      }
    };
  }

  function uuid() {
    var h = '';
    for (var i = 0; i < 32; i++) {
      var r = (Math.random() * 16) | 0;
      if (i === 12) r = 4;
      if (i === 16) r = (r & 3) | 8;
      h += (i === 8 || i === 12 || i === 16 || i === 20 ? '-' : '') + r.toString(16);
    }
    return h;
  }

  function get(key) {
    try {
      var v = wx.getStorageSync(P + key);
      return v === '' || v === undefined ? null : v;
    } catch (e) {
      return null;
    }
  }

  function set(key, value) {
    try {
      wx.setStorageSync(P + key, value);
    } catch (e) {
      log('siyu: storage', e);
    }
  }

  // ---- the queue, in wx storage so it survives the mini program being killed ----
  function load() {
    return get('q') || [];
  }

  function save(q) {
    if (q.length > cfg.maxQueue) q = q.slice(q.length - cfg.maxQueue);
    set('q', q);
  }

  function drop(sent) {
    var ids = {};
    for (var i = 0; i < sent.length; i++) ids[sent[i].messageId] = 1;
    save(load().filter(function (m) { return !ids[m.messageId]; }));
  }

  function schedule(ms) {
    if (timer) return;
    timer = setTimeout(safe(function () {
      timer = 0;
      flush();
    }), ms);
    if (timer && timer.unref) timer.unref(); // under node (tests), a pending retry never holds the process
  }

  function settle(batch, status) {
    // 2xx committed; 4xx other than 408/429 refused for good (drop); else back off and retry.
    if ((status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 408 && status !== 429)) {
      if (status >= 300) log('siyu: batch refused with HTTP', status);
      drop(batch);
      attempt = 0;
      retryAt = 0;
      if (load().length) schedule(0);
      return;
    }
    attempt++;
    var delay = Math.min(cfg.maxBackoff, cfg.backoff * Math.pow(2, attempt - 1));
    delay = delay / 2 + (Math.random() * delay) / 2;
    retryAt = Date.now() + delay;
    schedule(delay);
  }

  function flush() {
    if (!cfg) return Promise.resolve();
    if (inflight) return inflight;
    var wait = retryAt - Date.now();
    if (wait > 0) {
      schedule(wait);
      return Promise.resolve();
    }
    var batch = load().slice(0, cfg.flushAt);
    if (!batch.length) return Promise.resolve();
    var done = safe(settle);
    var sending = new Promise(function (resolve) {
      function answered(status) {
        done(batch, status);
        resolve();
      }
      try {
        wx.request({
          url: cfg.host + '/v1/batch',
          method: 'POST',
          header: { 'content-type': 'application/json' },
          data: { batch: batch, sentAt: new Date().toISOString(), writeKey: cfg.writeKey },
          timeout: 10000,
          success: function (res) {
            answered(res && res.statusCode);
          },
          fail: function () {
            answered(0);
          }
        });
      } catch (e) {
        log('siyu: wx.request', e);
        answered(0);
      }
    });
    inflight = sending;
    sending.then(function () {
      if (inflight === sending) inflight = null;
    });
    return sending;
  }

  // ---- messages ----
  function campaignOf(query) {
    var c = {};
    if (!query) return null;
    var keys = { source: 'utm_source', medium: 'utm_medium', name: 'utm_campaign', term: 'utm_term', content: 'utm_content' };
    for (var k in keys) if (query[keys[k]]) c[k] = String(query[keys[k]]);
    // A mini-program code (wxacode.getUnlimited) carries the live code's scene in query.scene.
    if (query.scene) {
      var scene = decodeURIComponent(String(query.scene));
      c.scene = scene;
      c.medium = c.medium || 'live_code';
      c.content = c.content || scene;
    }
    if (query.ref) {
      c.ref = String(query.ref);
      c.source = c.source || 'referral';
      c.medium = c.medium || 'invite';
      c.content = c.content || c.ref;
    }
    for (var any in c) return c;
    return null;
  }

  var device = null;
  function deviceContext() {
    if (device) return device;
    device = {};
    try {
      var s = wx.getSystemInfoSync();
      device = {
        os: { name: s.platform, version: s.system },
        device: { model: s.model, manufacturer: s.brand },
        screen: { width: s.screenWidth, height: s.screenHeight, density: s.pixelRatio },
        locale: s.language,
        wechat: { version: s.version, sdkVersion: s.SDKVersion }
      };
    } catch (e) {
      log('siyu: system info', e);
    }
    return device;
  }

  function externalIds() {
    var ids = [];
    if (user.ids.openid) ids.push({ id: user.ids.openid, type: 'mp_openid', collection: cfg.appId, encoding: 'none' });
    if (user.ids.unionid) ids.push({ id: user.ids.unionid, type: 'unionid', encoding: 'none' });
    return ids;
  }

  function context() {
    var base = deviceContext();
    var ctx = { library: { name: 'siyu-mp', version: VERSION }, app: { appId: cfg.appId, version: cfg.appVersion } };
    for (var k in base) ctx[k] = base[k];
    var first = get('ft');
    if (first) ctx.campaign = first;
    var ids = externalIds();
    if (ids.length) ctx.externalIds = ids;
    return ctx;
  }

  function enqueue(type, fields) {
    if (!cfg) {
      pending.push([type, fields]);
      return;
    }
    var m = { type: type, messageId: uuid(), anonymousId: user.aid, timestamp: new Date().toISOString(), context: context() };
    if (user.uid) m.userId = user.uid;
    for (var k in fields) if (fields[k] !== undefined) m[k] = fields[k];
    if (JSON.stringify(m).length > 32000) return log('siyu: message larger than 32 KB dropped');
    var q = load();
    q.push(m);
    save(q);
    if (q.length >= cfg.flushAt) flush();
    else schedule(cfg.flushInterval);
  }

  function props(p) {
    return p && typeof p === 'object' ? p : {};
  }

  var api = {
    VERSION: VERSION,
    init: function (options) {
      if (cfg) return;
      var o = props(options);
      if (!o.writeKey || !o.host) return typeof console !== 'undefined' && console.warn('siyu.init: writeKey and host are required');
      var account = {};
      try {
        account = wx.getAccountInfoSync().miniProgram || {};
      } catch (e) {
        account = {};
      }
      cfg = {
        writeKey: String(o.writeKey),
        host: String(o.host).replace(/\/+$/, ''),
        appId: o.appId || account.appId || '',
        appVersion: o.appVersion || account.version || '',
        flushAt: o.flushAt || 20,
        flushInterval: o.flushInterval === undefined ? 5000 : o.flushInterval,
        maxQueue: o.maxQueue || 1000,
        backoff: o.backoff || 1000,
        maxBackoff: o.maxBackoff || 60000,
        autotrack: o.autotrack !== false,
        debug: !!o.debug
      };
      user.aid = get('aid') || uuid();
      set('aid', user.aid);
      user.uid = get('uid');
      user.ids = get('wx') || {};
      try {
        wx.onNetworkStatusChange(safe(function (res) {
          if (res && res.isConnected) {
            retryAt = 0;
            flush();
          }
        }));
      } catch (e) {
        log('siyu: network status', e);
      }
      var calls = pending;
      pending = [];
      for (var i = 0; i < calls.length; i++) enqueue(calls[i][0], calls[i][1]);
      flush();
    },
    track: function (event, properties) {
      if (!event) return log('siyu.track: an event name is required');
      enqueue('track', { event: String(event), properties: props(properties) });
    },
    screen: function (name, properties) {
      enqueue('screen', { name: name ? String(name) : undefined, properties: props(properties) });
    },
    identify: function (userId, traits) {
      if (userId && typeof userId === 'object') {
        traits = userId;
        userId = null;
      }
      if (userId !== null && userId !== undefined && userId !== '') {
        user.uid = String(userId);
        set('uid', user.uid);
      }
      enqueue('identify', { traits: props(traits) });
    },
    alias: function (userId, previousId) {
      if (!userId) return log('siyu.alias: a user id is required');
      enqueue('alias', { userId: String(userId), previousId: previousId ? String(previousId) : user.uid || user.aid });
    },
    // The openid (and unionid) from your login (wx.login → code2Session on your server).
    // From now on every message carries them; an identify links them to this user at once.
    setWechatIds: function (ids) {
      ids = props(ids);
      var next = { openid: ids.openid || user.ids.openid, unionid: ids.unionid || user.ids.unionid };
      if (next.openid === user.ids.openid && next.unionid === user.ids.unionid) return;
      user.ids = next;
      set('wx', next);
      enqueue('identify', { traits: next.unionid ? { unionid: next.unionid } : {} });
    },
    flush: function () {
      return flush();
    },
    reset: function () {
      user.uid = null;
      user.ids = {};
      user.aid = uuid();
      set('uid', '');
      set('wx', {});
      set('aid', user.aid);
    },
    anonymousId: function () {
      return user.aid;
    }
  };

  // ---- autotrack: wrap App and Page lifecycles (the host's hooks always run, first) ----
  function around(target, name, after) {
    var original = target[name];
    target[name] = function () {
      var result;
      if (typeof original === 'function') result = original.apply(this, arguments);
      safe(after).apply(this, arguments);
      return result;
    };
  }

  function launchProps(o, fromBackground) {
    o = props(o);
    return { from_background: fromBackground, scene: o.scene, path: o.path, query: o.query };
  }

  function wrapApp(options) {
    around(options, 'onLaunch', function (o) {
      var touch = campaignOf(props(o).query);
      if (touch && !get('ft')) set('ft', touch); // first touch: kept for good
      if (cfg && cfg.autotrack) api.track('Application Opened', launchProps(o, false));
    });
    around(options, 'onShow', function (o) {
      if (hidden && cfg && cfg.autotrack) api.track('Application Opened', launchProps(o, true));
      hidden = false;
    });
    around(options, 'onHide', function () {
      hidden = true;
      if (cfg && cfg.autotrack) api.track('Application Backgrounded', {});
      flush();
    });
    return options;
  }

  function left(page) {
    if (!page.__siyuShownAt) return;
    api.track('Page Left', { path: page.route, dwell_ms: Date.now() - page.__siyuShownAt });
    page.__siyuShownAt = 0;
  }

  function wrapHandler(options, name) {
    var handler = options[name];
    options[name] = function (e) {
      if (e && e.type === 'tap' && cfg && cfg.autotrack) {
        safe(function (page, event) {
          var target = event.currentTarget || event.target || {};
          var p = { handler: name, path: page.route };
          if (target.id) p.id = target.id;
          if (target.dataset && target.dataset.siyu) p.label = String(target.dataset.siyu);
          if (target.dataset && JSON.stringify(target.dataset).length < 1000) p.dataset = target.dataset;
          api.track('Element Tapped', p);
        })(this, e);
      }
      return handler.apply(this, arguments);
    };
  }

  function wrapPage(options) {
    around(options, 'onLoad', function (query) {
      this.__siyuQuery = query;
    });
    around(options, 'onShow', function () {
      if (!cfg || !cfg.autotrack) return;
      this.__siyuShownAt = Date.now();
      api.screen(this.route, { path: this.route, query: this.__siyuQuery || this.options });
    });
    around(options, 'onHide', function () {
      if (cfg && cfg.autotrack) left(this);
    });
    around(options, 'onUnload', function () {
      if (cfg && cfg.autotrack) left(this);
    });
    if (typeof options.onShareAppMessage === 'function') {
      around(options, 'onShareAppMessage', function (o) {
        if (cfg && cfg.autotrack) api.track('Page Shared', { path: this.route, from: props(o).from });
      });
    }
    for (var name in options) {
      if (typeof options[name] === 'function' && !PAGE_HOOKS[name] && !APP_HOOKS[name]) wrapHandler(options, name);
    }
    return options;
  }

  var siyu = { create: create };
  for (var name in api) siyu[name] = typeof api[name] === 'function' ? safe(api[name]) : api[name];
  // App and Page must register even if the SDK failed: fall back to the plain options.
  siyu.App = function (options) {
    var wrapped = options;
    try {
      wrapped = wrapApp(props(options));
    } catch (e) {
      log('siyu:', e);
    }
    return realApp(wrapped);
  };
  siyu.Page = function (options) {
    var wrapped = options;
    try {
      wrapped = wrapPage(props(options));
    } catch (e) {
      log('siyu:', e);
    }
    return realPage(wrapped);
  };
  return siyu;
}

module.exports = create();
