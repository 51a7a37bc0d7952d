// scbridge admin page: talks only to /admin/api/ of this service, with
// the token in the Authorization header. No data is shown until the
// token has been accepted, and forgetting it clears the page.
'use strict';

(function () {
  const STATES = ['seen', 'awaiting_payment', 'importing', 'imported',
    'shipped', 'cancelled', 'needs_attention'];
  const REFRESH_MS = 15000;
  const AFTER_ACTION_MS = [1000, 3000, 7000];

  let token = null;
  let timer = null;
  let deadCursor = null;
  let shownOrder = null;
  let byState = null;
  let byStateCursor = null;

  const $ = (id) => document.getElementById(id);

  // Builds an element; text is always set as text, never as markup.
  function el(tag, props, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'text') {
        e.textContent = v;
      } else if (k === 'class') {
        e.className = v;
      } else if (k.startsWith('on')) {
        e.addEventListener(k.slice(2), v);
      } else if (v !== null && v !== undefined) {
        e.setAttribute(k, v);
      }
    }
    for (const c of children || []) {
      e.append(c);
    }
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      e.setAttribute(k, v);
    }
    return e;
  }

  function clear(node) {
    node.replaceChildren();
  }

  // "2026-12-01T17:04:00.123Z" -> "2026-12-01 17:04:00Z"; null -> "-".
  function fmtTime(t) {
    if (!t) {
      return '-';
    }
    return t.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }

  function fmtAge(t) {
    if (!t) {
      return '';
    }
    const s = Math.round((Date.now() - Date.parse(t)) / 1000);
    if (s < 120) {
      return s + ' s ago';
    }
    if (s < 7200) {
      return Math.round(s / 60) + ' min ago';
    }
    return Math.round(s / 3600) + ' h ago';
  }

  function fmtSeconds(s) {
    if (s >= 3600 && s % 3600 === 0) {
      return s / 3600 + ' h';
    }
    if (s >= 60 && s % 60 === 0) {
      return s / 60 + ' min';
    }
    return s + ' s';
  }

  function setStatus(text, bad) {
    $('status').textContent = text;
    $('status').className = bad ? 'status error' : 'status';
  }

  class ApiError extends Error {
    constructor(status, code) {
      super(code + ' (' + status + ')');
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path) {
    if (!token) {
      throw new ApiError(401, 'unauthorized');
    }
    const res = await fetch('api/' + path, {
      method: method,
      headers: {
        'Authorization': 'Bearer ' + token,
        'Accept': 'application/json',
      },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (res.status === 401) {
      signOut('The token was refused.');
      throw new ApiError(401, 'unauthorized');
    }
    if (!res.ok) {
      throw new ApiError(res.status,
        (body && body.error) || 'http_' + res.status);
    }
    return body;
  }

  function explain(err) {
    if (err instanceof ApiError) {
      if (err.status === 503) {
        return 'Redis is unavailable; try again shortly.';
      }
      if (err.status === 404) {
        return 'Not found.';
      }
      return 'The service answered ' + err.status + ' ' + err.code + '.';
    }
    return 'The service cannot be reached.';
  }

  // ---- sign in and out ----

  async function signIn(ev) {
    ev.preventDefault();
    const value = $('token').value.trim();
    $('login-error').textContent = '';
    if (!value) {
      return;
    }
    token = value;
    $('login-submit').disabled = true;
    try {
      const stats = await api('GET', 'stats');
      $('token').value = '';
      $('login').hidden = true;
      $('app').hidden = false;
      $('signout').hidden = false;
      $('refresh').hidden = false;
      renderStats(stats);
      await loadDead(false);
      timer = setInterval(refresh, REFRESH_MS);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) {
        token = null;
        $('login-error').textContent = explain(err);
      }
    } finally {
      $('login-submit').disabled = false;
    }
  }

  // Forgets the token and everything that was shown with it.
  function signOut(message) {
    token = null;
    if (timer) {
      clearInterval(timer);
      timer = null;
    }
    for (const id of ['states', 'chart', 'queue-figures', 'rate-limit',
      'dead-rows', 'dead-count', 'poll-rows', 'bs-rows', 'o-fields',
      'o-id', 'o-state', 'search-error']) {
      clear($(id));
    }
    for (const t of ['o-tracking', 'o-history']) {
      clear($(t).tBodies[0]);
    }
    $('search-q').value = '';
    $('order').hidden = true;
    $('by-state').hidden = true;
    $('app').hidden = true;
    $('signout').hidden = true;
    $('refresh').hidden = true;
    $('login').hidden = false;
    shownOrder = null;
    byState = null;
    setStatus('', false);
    $('login-error').textContent = message || '';
    $('token').focus();
  }

  async function refresh() {
    try {
      renderStats(await api('GET', 'stats'));
      await loadDead(false);
      if (shownOrder) {
        await showOrder(shownOrder, true);
      }
    } catch (err) {
      if (token) {
        setStatus(explain(err), true);
      }
    }
  }

  function afterAction() {
    for (const ms of AFTER_ACTION_MS) {
      setTimeout(() => {
        if (token) {
          refresh();
        }
      }, ms);
    }
  }

  // ---- stats ----

  function renderStats(s) {
    renderStates(s.orders);
    renderChart(s.last_24h);
    renderQueues(s);
    renderPolls(s.polls);
    const now = new Date().toISOString();
    setStatus('Updated ' + fmtTime(now), false);
  }

  function renderStates(orders) {
    const box = $('states');
    clear(box);
    for (const st of STATES) {
      const n = orders[st] || 0;
      let cls = 'tile';
      if (st === 'needs_attention') {
        cls += ' attention' + (n > 0 ? ' nonzero' : '');
      }
      box.append(el('button', {
        type: 'button', class: cls, 'data-state': st,
        title: 'List the orders in ' + st,
        onclick: () => listState(st),
      }, [
        el('span', { class: 'n', text: String(n) }),
        el('span', { class: 'label', text: st.replace('_', ' ') }),
      ]));
    }
  }

  function renderChart(hours) {
    const box = $('chart');
    const w = 720;
    const h = 150;
    const top = 10;
    const base = 125;
    const slot = w / hours.length;
    let max = 1;
    for (const x of hours) {
      max = Math.max(max, x.imported, x.shipped);
    }
    const root = svg('svg', {
      viewBox: '0 0 ' + w + ' ' + h, role: 'img',
      'aria-label': 'Imports and shipments per hour, last 24 hours',
    });
    root.append(svg('line', {
      class: 'base', x1: 0, y1: base, x2: w, y2: base,
    }));
    hours.forEach((x, i) => {
      const bw = slot * 0.36;
      const kinds = [['imported', x.imported], ['shipped', x.shipped]];
      kinds.forEach(([kind, n], k) => {
        const bh = (base - top) * n / max;
        const bar = svg('rect', {
          class: 'bar-' + kind,
          x: (i * slot + slot * 0.12 + k * bw).toFixed(1),
          y: (base - bh).toFixed(1),
          width: bw.toFixed(1),
          height: bh.toFixed(1),
        });
        const title = svg('title');
        title.textContent = fmtTime(x.hour) + ': ' + n + ' ' + kind;
        bar.append(title);
        root.append(bar);
      });
      if (i % 3 === 0) {
        const label = svg('text', {
          class: 'axis', x: (i * slot + 2).toFixed(1), y: base + 14,
        });
        label.textContent = x.hour.slice(11, 16);
        root.append(label);
      }
    });
    const peak = svg('text', { class: 'axis', x: 2, y: top });
    peak.textContent = 'max ' + max;
    root.append(peak);
    clear(box);
    box.append(root);
  }

  function renderQueues(s) {
    const dl = $('queue-figures');
    clear(dl);
    const rows = [
      ['Ready', s.queues.ready],
      ['Pending (taken)', s.queues.pending],
      ['Delayed', s.queues.delayed],
      ['Dead letters', s.queues.dead],
      ['In flight', s.in_flight],
      ['Oldest pending job', s.oldest_job_age_s.toFixed(1) + ' s'],
    ];
    for (const [k, v] of rows) {
      dl.append(el('dt', { text: k }), el('dd', { text: String(v) }));
    }
    const until = s.rate_limit.sellercloud.paused_until;
    $('rate-limit').textContent = until
      ? 'Sellercloud budget exhausted: paused until ' + fmtTime(until)
      : 'Sellercloud rate limit: not paused.';
    $('rate-limit').className = until ? 'error' : 'muted';
  }

  function renderPolls(polls) {
    const body = $('poll-rows');
    clear(body);
    for (const p of polls) {
      const lateMs = 2000 * p.interval_s;
      const late = !p.last_ok_at ||
        Date.now() - Date.parse(p.last_ok_at) > lateMs;
      body.append(el('tr', {}, [
        el('td', { text: p.poll }),
        el('td', { text: p.company_id === null ? '-' : String(p.company_id) }),
        el('td', { text: p.key }),
        el('td', { text: fmtSeconds(p.interval_s) }),
        el('td', {
          text: p.cursor === null ? '-' : p.cursor, class: 'wrap',
        }),
        el('td', {
          text: fmtTime(p.last_run_at), class: 'time',
          title: fmtAge(p.last_run_at),
        }),
        el('td', {
          text: fmtTime(p.last_ok_at),
          class: 'time ' + (late ? 'late' : 'ok'),
          title: fmtAge(p.last_ok_at),
        }),
        el('td', { text: p.last_error || '', class: 'wrap' }),
      ]));
    }
  }

  // ---- dead letters ----

  async function loadDead(more) {
    let path = 'dead-letters?limit=100';
    if (more && deadCursor) {
      path += '&cursor=' + encodeURIComponent(deadCursor);
    }
    const page = await api('GET', path);
    const body = $('dead-rows');
    if (!more) {
      clear(body);
    }
    for (const d of page.items) {
      body.append(deadRow(d));
    }
    deadCursor = page.next_cursor;
    $('dead-more').hidden = !deadCursor;
    $('dead-empty').hidden = body.rows.length > 0;
    $('dead-table').hidden = body.rows.length === 0;
    $('dead-count').textContent = '(' + body.rows.length +
      (deadCursor ? '+' : '') + ')';
  }

  function deadRow(d) {
    const order = d.sc_order_id === null
      ? el('span', { text: '-' })
      : el('button', {
        type: 'button', class: 'link', text: String(d.sc_order_id),
        onclick: () => showOrder(String(d.sc_order_id), false),
      });
    const retry = el('button', {
      type: 'button', class: 'retry', text: 'Retry',
    });
    const discard = el('button', {
      type: 'button', class: 'danger discard', text: 'Discard',
    });
    const note = el('span', { class: 'muted' });
    const row = el('tr', {
      'data-id': d.id,
      'data-order': d.sc_order_id === null ? '' : String(d.sc_order_id),
    }, [
      el('td', { class: 'nowrap' }, [order]),
      el('td', { text: d.type, class: 'nowrap' }),
      el('td', { text: d.reason, class: 'wrap' }),
      el('td', { text: d.error, class: 'wrap' }),
      el('td', { text: String(d.attempts) }),
      el('td', { text: fmtTime(d.failed_at), class: 'time' }),
      el('td', { class: 'actions' }, [retry, discard, note]),
    ]);
    retry.addEventListener('click', () => deadAction(d, 'retry', row, note));
    discard.addEventListener('click', () => {
      // Two clicks: the first arms the button, the second discards.
      if (!discard.classList.contains('armed')) {
        discard.classList.add('armed');
        discard.textContent = 'Confirm discard';
        setTimeout(() => {
          discard.classList.remove('armed');
          discard.textContent = 'Discard';
        }, 5000);
        return;
      }
      deadAction(d, 'discard', row, note);
    });
    return row;
  }

  async function deadAction(d, action, row, note) {
    for (const b of row.querySelectorAll('button')) {
      b.disabled = true;
    }
    try {
      const r = await api('POST', 'dead-letters/' +
        encodeURIComponent(d.id) + '/' + action);
      note.textContent = r.status;
      row.classList.add('done');
      afterAction();
    } catch (err) {
      note.textContent = explain(err);
      for (const b of row.querySelectorAll('button')) {
        b.disabled = false;
      }
    }
  }

  // ---- one order ----

  async function fetchOrder(q) {
    if (/^[0-9]{1,19}$/.test(q)) {
      try {
        return await api('GET', 'orders/' + q);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          throw err;
        }
      }
    }
    return api('GET', 'orders?ddi_order_no=' + encodeURIComponent(q));
  }

  async function showOrder(q, quiet) {
    if (!quiet) {
      $('search-q').value = q;
      $('search-error').textContent = '';
    }
    try {
      const o = await fetchOrder(q);
      renderOrder(o);
      shownOrder = String(o.sc_order_id);
    } catch (err) {
      if (!quiet) {
        $('order').hidden = true;
        shownOrder = null;
        $('search-error').textContent = explain(err);
      }
    }
  }

  function renderOrder(o) {
    $('o-id').textContent = String(o.sc_order_id);
    $('o-state').textContent = o.state;
    $('o-state').className = 'state ' + o.state;
    const dl = $('o-fields');
    clear(dl);
    const rows = [
      ['State', o.state],
      ['Reason', o.reason || '-'],
      ['DDI order', o.ddi_order_no || '-'],
      ['Company', o.company_id === null ? '-' : String(o.company_id)],
      ['Channel', o.channel || '-'],
      ['Channel order', o.channel_order_id || '-'],
      ['Reference', o.reference || '-'],
      ['Updated', fmtTime(o.updated_at)],
    ];
    for (const [k, v] of rows) {
      dl.append(el('dt', { text: k }),
        el('dd', { text: v, 'data-field': k.toLowerCase() }));
    }
    const tb = $('o-tracking').tBodies[0];
    clear(tb);
    for (const t of o.tracking) {
      tb.append(el('tr', {}, [
        el('td', { text: t.number }),
        el('td', { text: t.carrier }),
        el('td', { text: t.service }),
        el('td', { text: t.shipment_id }),
        el('td', {
          text: t.pushed_at ? fmtTime(t.pushed_at) : 'held', class: 'time',
        }),
      ]));
    }
    $('o-tracking').hidden = o.tracking.length === 0;
    $('o-tracking-empty').hidden = o.tracking.length > 0;
    const hb = $('o-history').tBodies[0];
    clear(hb);
    for (const h of o.history) {
      hb.append(el('tr', {}, [
        el('td', { text: fmtTime(h.at), class: 'time' }),
        el('td', { text: h.event, class: 'nowrap' }),
        el('td', { text: h.detail, class: 'wrap' }),
      ]));
    }
    $('order').hidden = false;
  }

  async function replayShown() {
    if (!shownOrder) {
      return;
    }
    $('o-replay').disabled = true;
    try {
      await api('POST', 'orders/' + shownOrder + '/replay');
      $('search-error').textContent = '';
      setStatus('Order ' + shownOrder + ' requeued', false);
      afterAction();
    } catch (err) {
      $('search-error').textContent = explain(err);
    } finally {
      $('o-replay').disabled = false;
    }
  }

  // ---- orders by state ----

  async function listState(state, more) {
    byState = state;
    let path = 'orders?state=' + state + '&limit=50';
    if (more && byStateCursor) {
      path += '&cursor=' + encodeURIComponent(byStateCursor);
    }
    try {
      const page = await api('GET', path);
      const body = $('bs-rows');
      if (!more) {
        clear(body);
      }
      for (const o of page.items) {
        body.append(el('tr', {}, [
          el('td', {}, [el('button', {
            type: 'button', class: 'link', text: String(o.sc_order_id),
            onclick: () => showOrder(String(o.sc_order_id), false),
          })]),
          el('td', { text: o.channel || '-' }),
          el('td', { text: o.reference || '-' }),
          el('td', { text: o.ddi_order_no || '-' }),
          el('td', { text: o.reason || '', class: 'wrap' }),
          el('td', { text: fmtTime(o.updated_at), class: 'time' }),
        ]));
      }
      byStateCursor = page.next_cursor;
      $('bs-more').hidden = !byStateCursor;
      $('bs-state').textContent = state.replace('_', ' ');
      $('by-state').hidden = false;
    } catch (err) {
      setStatus(explain(err), true);
    }
  }

  function start() {
    $('login-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(''));
    $('refresh').addEventListener('click', refresh);
    $('dead-more').addEventListener('click', () => loadDead(true));
    $('bs-more').addEventListener('click', () => listState(byState, true));
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = $('search-q').value.trim();
      if (q) {
        showOrder(q, false);
      }
    });
    $('o-replay').addEventListener('click', replayShown);
    $('o-reload').addEventListener('click', refresh);
    $('token').focus();
  }

  start();
})();
