// mqsim dashboard: polls /api/status once a second (the live tables come rendered and
// escaped by the server), listens to /events (server-sent events) for the timeline, draws
// the message-rate chart, and posts the action buttons without leaving the page.
// Plain JavaScript, no build step; the page works without it (forms post, reload updates).
(function () {
  'use strict';
  var live = document.getElementById('live');
  var side = document.getElementById('live-side');
  var topology = document.getElementById('live-topology');
  var timeline = document.getElementById('timeline');
  var result = document.getElementById('result');
  var sequence = document.getElementById('sequence');
  var samples = []; // {t, enq, deq, node}
  var loadPrev = null; // {t, sent, received}
  var MAX_POINTS = 60;
  // Absolute URLs on the page's origin: a page opened as http://user:pass@host/ has a base
  // URL with credentials, and fetch() refuses relative URLs resolved against it. The
  // browser still sends the BASIC auth it has for this origin.
  function url(path) { return window.location.origin + path; }

  function setResult(text, ok) {
    result.textContent = text;
    result.className = ok ? 'flash' : 'flash bad';
  }

  // ---- live tables and the rate chart ----
  function rates() {
    var out = [];
    for (var i = 1; i < samples.length; i++) {
      var a = samples[i - 1], b = samples[i];
      var dt = (b.t - a.t) / 1000;
      if (dt <= 0) continue;
      // A new master starts its counters from zero: no rate across the switch.
      if (a.node !== b.node || b.enq < a.enq || b.deq < a.deq || a.node === null) {
        out.push({ inr: 0, outr: 0 });
      } else {
        out.push({ inr: (b.enq - a.enq) / dt, outr: (b.deq - a.deq) / dt });
      }
    }
    return out.slice(-MAX_POINTS);
  }

  function draw() {
    var r = rates();
    var max = 1;
    r.forEach(function (p) { max = Math.max(max, p.inr, p.outr); });
    function pts(key) {
      var w = 600, h = 178, n = MAX_POINTS - 1;
      var off = MAX_POINTS - r.length;
      return r.map(function (p, i) {
        return ((off + i) * w / n).toFixed(1) + ',' + (h - (p[key] / max) * (h - 20)).toFixed(1);
      }).join(' ');
    }
    document.getElementById('rate-in').setAttribute('points', pts('inr'));
    document.getElementById('rate-out').setAttribute('points', pts('outr'));
    document.getElementById('rate-max').textContent = 'max ' + max.toFixed(1) + ' msg/s · last 60 s';
    var last = r[r.length - 1];
    document.getElementById('rate-in-now').textContent = last ? last.inr.toFixed(1) : '–';
    document.getElementById('rate-out-now').textContent = last ? last.outr.toFixed(1) : '–';
  }

  // Replace the live tables only when they changed, and never while a button is held
  // down (a click is mousedown + mouseup on the same element).
  var lastHtml = null, lastSide = null, lastTopology = null, pointerDown = false;
  document.addEventListener('mousedown', function () { pointerDown = true; }, true);
  document.addEventListener('mouseup', function () { setTimeout(function () { pointerDown = false; }, 0); }, true);

  var polling = false;
  function poll() {
    if (polling) return;
    polling = true;
    fetch(url('/api/status'), { headers: { 'Accept': 'application/json' }, cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (data) {
        if (data.html !== lastHtml && !pointerDown) {
          live.innerHTML = data.html; // rendered and escaped by the server
          lastHtml = data.html;
        }
        if (data.html_topology !== lastTopology && !pointerDown) {
          topology.innerHTML = data.html_topology; // rendered and escaped by the server
          lastTopology = data.html_topology;
        }
        if (data.html_side !== lastSide && !pointerDown) {
          side.innerHTML = data.html_side;
          lastSide = data.html_side;
        }
        var m = data.master_stats;
        samples.push({ t: Date.now(), enq: m ? m.enqueued : 0, deq: m ? m.dequeued : 0, node: m ? m.node : null });
        if (samples.length > MAX_POINTS + 1) samples.shift();
        var totals = document.getElementById('totals');
        totals.textContent = m ? (m.node + ': ' + m.enqueued + ' enqueued, ' + m.dequeued + ' dequeued, ' + m.pending +
          ' pending in ' + m.destinations + ' destination(s)') : 'no master console to read counters from';
        draw();
        showLoad(data.load);
        document.body.setAttribute('data-updated', String(Date.now()));
      })
      .catch(function (e) { setResult('Cannot reach the supervisor: ' + e.message + ' (is the cluster down?)', false); })
      .then(function () { polling = false; });
  }
  poll();
  setInterval(poll, 1000);

  // ---- the demo load: its counters as rates ----
  function showLoad(l) {
    var span = document.getElementById('load');
    if (!l) {
      loadPrev = null;
      span.setAttribute('data-running', 'false');
      span.innerHTML = '<span class="muted">no load running</span>';
      return;
    }
    if (span.getAttribute('data-running') !== 'true' || !document.getElementById('load-send-rate')) {
      span.innerHTML = 'load on <code></code>: sending <b id="load-send-rate">–</b>/s, receiving <b id="load-recv-rate">–</b>/s ' +
        '<span class="muted">(<span id="load-sent"></span> sent, <span id="load-received"></span> received, ' +
        '<span id="load-reconnects"></span> reconnection(s))</span>';
      span.querySelector('code').textContent = l.queue;
      span.setAttribute('data-running', 'true');
    }
    var now = { t: l.seconds, sent: l.sent, received: l.received };
    if (loadPrev && now.t > loadPrev.t) {
      var dt = now.t - loadPrev.t;
      document.getElementById('load-send-rate').textContent = ((now.sent - loadPrev.sent) / dt).toFixed(1);
      document.getElementById('load-recv-rate').textContent = ((now.received - loadPrev.received) / dt).toFixed(1);
    }
    loadPrev = now;
    document.getElementById('load-sent').textContent = l.sent;
    document.getElementById('load-received').textContent = l.received;
    var rc = document.getElementById('load-reconnects');
    if (rc) rc.textContent = l.reconnects;
  }

  // ---- the last failover's sequence diagram, fetched again after each failover ----
  function fetchSequence() {
    fetch(url('/diagram/last-failover.svg'), { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
      .then(function (svg) {
        // Rendered and escaped by the server, like the live tables.
        if (svg.indexOf('<svg') === 0) sequence.innerHTML = svg;
      })
      .catch(function () { /* none yet, or the supervisor is gone */ });
  }
  function failoverSeen() {
    // Right away, then again as slaves attach and clients reconnect after it.
    [500, 4000, 9500].forEach(function (ms) { setTimeout(fetchSequence, ms); });
  }

  // ---- buttons: POST /action, stay on the page ----
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form || form.getAttribute('action') !== '/action') return;
    ev.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    var label = body.get('verb') + ' ' + body.get('target');
    setResult('mqsim ' + label + ' …', true);
    form.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
    fetch(url('/action'), { method: 'POST', body: body, headers: { 'Accept': 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (data) { setResult(data.lines.join('; '), data.ok); })
      .catch(function (e) { setResult(label + ' failed: ' + e.message, false); })
      .then(poll);
  });

  // ---- timeline: server-sent events ----
  function addEvent(e) {
    var li = document.createElement('li');
    li.className = 'k-' + String(e.kind).replace(/[^a-z0-9-]/gi, '');
    function span(cls, text) {
      var s = document.createElement('span');
      s.className = cls;
      s.textContent = text;
      li.appendChild(s);
    }
    span('t', e.time);
    span('s', e.source);
    span('k', e.kind);
    li.appendChild(document.createTextNode(e.message));
    if (e.note) span('failover', e.note);
    timeline.insertBefore(li, timeline.firstChild);
    while (timeline.children.length > 300) timeline.removeChild(timeline.lastChild);
  }
  if (window.EventSource) {
    var es = new EventSource(url('/events?from=') + encodeURIComponent(timeline.getAttribute('data-offset') || '0'));
    es.onmessage = function (m) {
      try {
        var e = JSON.parse(m.data);
        addEvent(e);
        if (e.failover_ms != null) failoverSeen();
      } catch (err) { /* ignore a malformed line */ }
    };
  }
})();
