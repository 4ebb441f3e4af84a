/*
 * siyu.js — the web tracking SDK of siyu (私域).
 *
 * Speaks siyu's Segment-compatible collect spec: batches of messages POSTed to
 * `<host>/v1/batch` with the write key in the body, as text/plain (a CORS "simple request",
 * so no preflight). Every message has a `messageId` (the server dedupes on it, which makes
 * every retry safe) and the batch a `sentAt` (the server corrects client clock skew).
 *
 * Never throws into the host page: every entry point and listener is wrapped.
 * Docs: docs/sdk.md. Built (minified) into siyu/sdk_assets/siyu.js by `make sdk`.
 */
(function (w, d) {
  'use strict';
  var VERSION = '1.0.0';
  var P = 'siyu_';
  var stub = w.siyu;
  if (stub && stub.VERSION) return; // loaded twice: keep the first

  var nav = w.navigator;
  var loc = w.location;
  var cfg = null;
  var ls = null;
  var mem = [];
  var qkey = '';
  var timer = 0;
  var inflight = null;
  var attempt = 0;
  var retryAt = 0;
  var user = { aid: '', uid: null };
  var view = null; // the page being viewed: {url, path, title, start}
  var lastUrl = '';

  function log() {
    if (cfg && cfg.debug && w.console) w.console.warn.apply(w.console, arguments);
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
    var c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = '';
    for (var j = 0; j < 16; j++) h += (j === 4 || j === 6 || j === 8 || j === 10 ? '-' : '') + (b[j] + 256).toString(16).slice(1);
    return h;
  }

  function now() {
    return new Date().toISOString();
  }

  // ---- storage: localStorage when it works, memory otherwise ----
  function openStorage() {
    try {
      var s = w.localStorage;
      s.setItem(P + 't', '1');
      s.removeItem(P + 't');
      return s;
    } catch (e) {
      return null;
    }
  }

  function get(key) {
    try {
      var v = ls && ls.getItem(P + key);
      return v ? JSON.parse(v) : null;
    } catch (e) {
      return null;
    }
  }

  function set(key, value) {
    try {
      if (ls) ls.setItem(P + key, JSON.stringify(value));
      return true;
    } catch (e) {
      return false;
    }
  }

  function cookie(name, value) {
    try {
      if (value === undefined) {
        var m = d.cookie.match(new RegExp('(?:^|; )' + P + name + '=([^;]*)'));
        return m ? decodeURIComponent(m[1]) : null;
      }
      d.cookie = P + name + '=' + encodeURIComponent(value) + '; path=/; max-age=63072000; SameSite=Lax' +
        (cfg.cookieDomain ? '; domain=' + cfg.cookieDomain : '') + (loc.protocol === 'https:' ? '; Secure' : '');
    } catch (e) {
      return null;
    }
  }

  // ---- the queue (persisted; shared by the site's tabs; at-least-once, deduped by messageId) ----
  function load() {
    return ls ? get(qkey) || [] : mem;
  }

  function save(q) {
    if (q.length > cfg.maxQueue) q = q.slice(q.length - cfg.maxQueue);
    mem = q;
    while (ls && !set(qkey, q) && q.length) q = q.slice(Math.ceil(q.length / 2)); // over quota: keep the newest
  }

  function drop(sent) {
    var ids = {};
    for (var i = 0; i < sent.length; i++) ids[sent[i].messageId] = 1;
    save(load().filter(function (m) { return !ids[m.messageId]; }));
  }

  function url() {
    return cfg.host + '/v1/batch';
  }

  function body(batch) {
    return JSON.stringify({ batch: batch, sentAt: now(), writeKey: cfg.writeKey });
  }

  // The oldest messages, at most flushAt of them and ~400 KB (the server takes 512 KiB).
  function take(q, max) {
    var out = [];
    var size = 0;
    for (var i = 0; i < q.length && out.length < cfg.flushAt; i++) {
      size += JSON.stringify(q[i]).length;
      if (out.length && size > max) break;
      out.push(q[i]);
    }
    return out;
  }

  function schedule(ms) {
    if (timer) return;
    timer = setTimeout(safe(function () {
      timer = 0;
      flush();
    }), ms);
  }

  function settle(batch, status) {
    inflight = null;
    // 2xx: committed. 4xx other than 408/429: refused for good (bad key, bad message): retrying
    // cannot help, so drop. Anything else (offline, 5xx, 429): back off and retry.
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
    var batch = take(load(), 400000);
    if (!batch.length) return Promise.resolve();
    var data = body(batch);
    var done = safe(settle);
    try {
      inflight = w.fetch(url(), {
        method: 'POST',
        body: data,
        headers: { 'Content-Type': 'text/plain' },
        credentials: 'omit',
        keepalive: data.length < 60000
      }).then(function (r) { done(batch, r.status); }, function () { done(batch, 0); });
    } catch (e) {
      done(batch, 0); // no fetch, or a broken one: back off like a network error
      return Promise.resolve();
    }
    return inflight;
  }

  // On page hide: hand the queue to sendBeacon (64 KB per call). While sends succeed the
  // beaconed messages leave the queue; while offline or failing they stay, and the next page
  // load sends them again (the server drops the duplicates by messageId).
  function beacon() {
    var q = load();
    if (!q.length || !nav.sendBeacon) return;
    var healthy = !attempt && nav.onLine !== false;
    var sent = [];
    while (q.length) {
      var batch = take(q, 60000);
      var data = body(batch);
      if (data.length > 64000 || !nav.sendBeacon(url(), new Blob([data], { type: 'text/plain' }))) break;
      sent = sent.concat(batch);
      q = q.slice(batch.length);
    }
    if (healthy && sent.length) drop(sent);
  }

  // ---- messages ----
  function campaignOf(search) {
    var p = new URLSearchParams(search);
    var c = {};
    var keys = { source: 'utm_source', medium: 'utm_medium', name: 'utm_campaign', term: 'utm_term', content: 'utm_content' };
    for (var k in keys) if (p.get(keys[k])) c[k] = p.get(keys[k]);
    var scene = p.get('scene'); // a live code's scene (siyu's live-code landing URL carries ?scene=)
    if (scene) {
      c.scene = scene;
      c.medium = c.medium || 'live_code';
      c.content = c.content || scene;
    }
    var ref = p.get('ref'); // a referral invite link (…/invite?ref=CODE)
    if (ref) {
      c.ref = ref;
      c.source = c.source || 'referral';
      c.medium = c.medium || 'invite';
      c.content = c.content || ref;
    }
    for (var any in c) return c;
    return null;
  }

  function pageProps() {
    return {
      path: loc.pathname,
      url: loc.href,
      search: loc.search,
      hash: loc.hash,
      title: d.title,
      referrer: lastUrl || d.referrer
    };
  }

  function context() {
    var ctx = {
      library: { name: 'siyu.js', version: VERSION },
      page: pageProps(),
      userAgent: nav.userAgent,
      locale: nav.language,
      screen: { width: w.screen.width, height: w.screen.height, density: w.devicePixelRatio }
    };
    try {
      ctx.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      // an old browser without Intl: the message goes without it
    }
    var first = get('ft') || user.ft;
    if (first) ctx.campaign = first;
    return ctx;
  }

  function enqueue(type, fields) {
    if (!cfg) {
      pending.push([type, fields]);
      return;
    }
    var m = { type: type, messageId: uuid(), anonymousId: user.aid, timestamp: now(), context: context() };
    if (user.uid) m.userId = user.uid;
    for (var k in fields) if (fields[k] !== undefined) m[k] = fields[k];
    var size = JSON.stringify(m).length; // throws on a cycle: the message is dropped, never queued
    if (size > 32000) return log('siyu: message larger than 32 KB dropped', m);
    var q = load();
    q.push(m);
    save(q);
    if (q.length >= cfg.flushAt) flush();
    else schedule(cfg.flushInterval);
  }

  var pending = [];

  function props(p) {
    return p && typeof p === 'object' ? p : {};
  }

  var api = {
    VERSION: VERSION,
    track: function (event, properties) {
      if (!event) return log('siyu.track: an event name is required');
      enqueue('track', { event: String(event), properties: props(properties) });
    },
    page: function (name, properties) {
      if (name && typeof name === 'object') {
        properties = name;
        name = null;
      }
      var p = pageProps();
      var extra = props(properties);
      for (var k in extra) p[k] = extra[k];
      var touch = campaignOf(loc.search);
      if (touch) p.campaign = touch;
      enqueue('page', { name: name || d.title || loc.pathname, properties: p });
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
    flush: function () {
      return flush();
    },
    reset: function () {
      user.uid = null;
      user.aid = uuid();
      if (ls) ls.removeItem(P + 'uid');
      set('aid', user.aid);
      cookie('aid', user.aid);
    },
    anonymousId: function () {
      return user.aid;
    },
    userId: function () {
      return user.uid;
    },
    init: function (options) {
      if (cfg) return;
      var o = props(options);
      if (!o.writeKey) return w.console && w.console.warn('siyu.init: writeKey is required');
      var script = d.currentScript || d.querySelector('script[src*="/sdk/siyu"]');
      var from = script && script.src && script.src.indexOf('/sdk/siyu') > 0 ? new URL(script.src).origin : loc.origin;
      var auto = o.autotrack === false ? {} : props(o.autotrack);
      cfg = {
        writeKey: String(o.writeKey),
        host: String(o.host || from).replace(/\/+$/, ''),
        flushAt: o.flushAt || 20,
        flushInterval: o.flushInterval === undefined ? 3000 : o.flushInterval,
        maxQueue: o.maxQueue || 1000,
        backoff: o.backoff || 1000,
        maxBackoff: o.maxBackoff || 30000,
        cookieDomain: o.cookieDomain || '',
        debug: !!o.debug
      };
      ls = openStorage();
      qkey = 'q_' + cfg.writeKey;
      user.aid = cookie('aid') || get('aid') || uuid();
      user.uid = get('uid');
      set('aid', user.aid);
      cookie('aid', user.aid);
      var touch = campaignOf(loc.search);
      if (touch && !get('ft')) set('ft', touch); // first touch: kept for good
      user.ft = touch;
      if (o.autotrack !== false) autotrack(auto);
      lifecycle();
      var calls = pending;
      pending = [];
      for (var i = 0; i < calls.length; i++) enqueue(calls[i][0], calls[i][1]);
      flush();
    }
  };

  // ---- autotrack (无埋点) ----
  function on(target, type, fn, capture) {
    target.addEventListener(type, safe(fn), !!capture);
  }

  function startView(previous) {
    lastUrl = previous || '';
    view = { url: loc.href, path: loc.pathname, title: d.title, start: Date.now() };
    api.page();
  }

  function leave() {
    if (!view) return;
    api.track('Page Left', { path: view.path, url: view.url, title: view.title, dwell_ms: Date.now() - view.start });
    view = null;
  }

  function isRoute(hash) {
    return /^#[!/]/.test(hash);
  }

  function routeChanged() {
    if (!view || loc.href === view.url) return;
    var before = view.url.split('#');
    var after = loc.href.split('#');
    // An in-page anchor (#section) is not a new page; a hash route (#/cart, #!/cart) is.
    if (before[0] === after[0] && !isRoute('#' + (before[1] || '')) && !isRoute('#' + (after[1] || ''))) return;
    var previous = view.url;
    leave();
    startView(previous);
  }

  // Routers set the title after they push the URL: look once the current task is done (which
  // also folds a redirect's pushState + replaceState into one page view).
  function routeSoon() {
    setTimeout(safe(routeChanged), 0);
  }

  function patch(name) {
    var original = w.history[name];
    if (typeof original !== 'function') return;
    w.history[name] = function () {
      var result = original.apply(this, arguments);
      safe(routeSoon)();
      return result;
    };
  }

  function cssPath(el) {
    var parts = [];
    for (var n = el; n && n.nodeType === 1 && n !== d.body && parts.length < 5; n = n.parentElement) {
      var part = n.tagName.toLowerCase();
      if (n.id) {
        parts.unshift(part + '#' + n.id);
        break;
      }
      var cls = typeof n.className === 'string' ? n.className.trim().split(/\s+/).slice(0, 2).join('.') : '';
      if (cls) part += '.' + cls;
      var same = n.parentElement ? [].filter.call(n.parentElement.children, function (c) { return c.tagName === n.tagName; }) : [];
      if (same.length > 1) part += ':nth-of-type(' + (same.indexOf(n) + 1) + ')';
      parts.unshift(part);
    }
    return parts.join(' > ');
  }

  function textOf(el) {
    var t = el.tagName === 'INPUT' ? el.value : el.innerText || el.textContent || '';
    return String(t).replace(/\s+/g, ' ').trim().slice(0, 100);
  }

  var CLICKABLE = 'a,button,input[type=button],input[type=submit],input[type=reset],[role=button],[data-siyu]';

  function clicked(e) {
    var el = e.target && e.target.closest && e.target.closest(CLICKABLE);
    if (!el || el.closest('[data-siyu-ignore]')) return;
    var p = { tag: el.tagName.toLowerCase(), selector: cssPath(el), text: textOf(el), path: loc.pathname, url: loc.href };
    if (el.id) p.id = el.id;
    if (el.getAttribute('data-siyu')) p.label = el.getAttribute('data-siyu');
    if (el.href) p.href = String(el.href);
    api.track('Element Clicked', p);
  }

  function submitted(e) {
    var f = e.target;
    if (!f || f.tagName !== 'FORM' || f.closest('[data-siyu-ignore]')) return;
    // Never a field's value: only what the form is and how many fields it has.
    api.track('Form Submitted', {
      selector: cssPath(f),
      id: f.id || undefined,
      name: f.getAttribute('name') || undefined,
      action: f.getAttribute('action') || '',
      method: (f.getAttribute('method') || 'get').toLowerCase(),
      field_count: f.elements.length,
      label: f.getAttribute('data-siyu') || undefined,
      path: loc.pathname,
      url: loc.href
    });
  }

  function autotrack(a) {
    if (a.pageview !== false) {
      startView();
      patch('pushState');
      patch('replaceState');
      on(w, 'popstate', routeSoon);
      on(w, 'hashchange', routeSoon);
      on(w, 'pageshow', function (e) {
        if (e.persisted) startView(); // back from the back-forward cache
      });
    }
    if (a.click !== false) on(d, 'click', clicked, true);
    if (a.submit !== false) on(d, 'submit', submitted, true);
    if (a.leave !== false) on(w, 'pagehide', leave);
  }

  function lifecycle() {
    on(w, 'pagehide', beacon); // after autotrack's own pagehide listener (Page Left)
    on(d, 'visibilitychange', function () {
      if (d.visibilityState === 'hidden') beacon();
    });
    on(w, 'online', function () {
      retryAt = 0;
      flush();
    });
  }

  var siyu = {};
  for (var name in api) siyu[name] = typeof api[name] === 'function' ? safe(api[name]) : api[name];
  w.siyu = siyu;
  // The async snippet queued calls as [method, args] in siyu.q before this file loaded.
  var queued = (stub && stub.q) || [];
  for (var i = 0; i < queued.length; i++) if (siyu[queued[i][0]]) siyu[queued[i][0]].apply(siyu, queued[i][1]);
})(window, document);
