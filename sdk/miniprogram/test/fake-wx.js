// A simulated mini-program runtime: wx storage, wx.request, system info, App and Page, and a
// driver that calls lifecycle hooks the way the WeChat client does.
'use strict';

function fakeRuntime(options) {
  options = options || {};
  var storage = options.storage || new Map();
  var requests = [];
  var networkListeners = [];
  var apps = [];
  var pages = [];
  var rt = {
    storage: storage,
    requests: requests,
    apps: apps,
    pages: pages,
    // What the server answers: a status code, 'fail' (no network), or a function of the request.
    respond: options.respond || 200,
    wx: {
      getStorageSync: function (key) {
        // Like WeChat: '' for a missing key; values come back as copies.
        return storage.has(key) ? JSON.parse(storage.get(key)) : '';
      },
      setStorageSync: function (key, value) {
        if (rt.storageBroken) throw new Error('setStorageSync:fail exceed storage max size');
        storage.set(key, JSON.stringify(value));
      },
      request: function (req) {
        requests.push(req);
        var answer = typeof rt.respond === 'function' ? rt.respond(req) : rt.respond;
        Promise.resolve(answer).then(function (a) {
          setImmediate(function () {
            if (a === 'fail') req.fail({ errMsg: 'request:fail' });
            else req.success({ statusCode: a, data: {} });
          });
        });
      },
      getSystemInfoSync: function () {
        return { platform: 'ios', system: 'iOS 17.2', model: 'iPhone 15', brand: 'Apple', screenWidth: 393, screenHeight: 852, pixelRatio: 3, language: 'zh_CN', version: '8.0.50', SDKVersion: '3.5.0' };
      },
      getAccountInfoSync: function () {
        return { miniProgram: { appId: 'wxTEST', version: '1.2.0', envVersion: 'release' } };
      },
      onNetworkStatusChange: function (cb) {
        networkListeners.push(cb);
      }
    },
    App: function (o) {
      apps.push(o);
    },
    Page: function (o) {
      pages.push(o);
    },
    setOnline: function (online) {
      networkListeners.forEach(function (cb) { cb({ isConnected: online, networkType: online ? 'wifi' : 'none' }); });
    },
    // Every message sent so far, in order.
    sent: function () {
      return [].concat.apply([], requests.map(function (r) { return r.data.batch; }));
    },
    queued: function () {
      return storage.has('siyu_q') ? JSON.parse(storage.get('siyu_q')) : [];
    },
    // A page instance as the client makes one from the registered options.
    openPage: function (index, route, query) {
      var instance = Object.create(pages[index]);
      instance.route = route;
      instance.options = query || {};
      if (instance.onLoad) instance.onLoad(query || {});
      if (instance.onShow) instance.onShow();
      return instance;
    }
  };
  return rt;
}

function tick(ms) {
  return new Promise(function (resolve) { setTimeout(resolve, ms || 0); });
}

module.exports = { fakeRuntime: fakeRuntime, tick: tick };
