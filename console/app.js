/* vabill console: a single-page app over the admin API (docs/ADMIN.md).
 *
 * Every value from the server reaches the page through el(), which writes
 * text with textContent and attributes with setAttribute, never as HTML:
 * member names and descriptions are partners' input.  Links are built from
 * fixed prefixes ("#/", "/admin/api/") plus encoded parameters, never from a
 * value alone.  The session lives in an HttpOnly cookie; the anti-CSRF token
 * from the login answer is kept in memory only and sent as X-CSRF-Token on
 * every POST.  No inline script or style: the CSP forbids both. */
'use strict';
(function () {
  const state = { csrf: null, operator: null, flash: '', seq: 0 };
  const main = document.getElementById('main');
  const STATUSES = ['open', 'expired', 'paid', 'closed'];

  /* ---- DOM helpers ---- */

  function el(tag, props, kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids || []) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function show(node) {
    main.replaceChildren(node);
  }

  /* A table inside a horizontally scrolling box; heads are strings, or
   * [string, 'num'] for right-aligned columns; cells are text or nodes. */
  function table(heads, rows, empty) {
    if (!rows.length) return el('p', { class: 'muted', text: empty || 'Nothing to show.' });
    const cls = heads.map((h) => (Array.isArray(h) ? h[1] : null));
    const thead = el('thead', null, [
      el('tr', null, heads.map((h, i) => el('th', { class: cls[i], scope: 'col', text: Array.isArray(h) ? h[0] : h }))),
    ]);
    const tbody = el('tbody', null, rows.map((r) => row(r, cls)));
    return el('div', { class: 'scroll' }, [el('table', null, [thead, tbody])]);
  }

  function row(cells, cls) {
    return el('tr', null, cells.map((c, i) => el('td', { class: cls && cls[i] }, [c])));
  }

  function dl(pairs) {
    const d = el('dl', { class: 'fields' });
    for (const [k, v] of pairs) d.append(el('dt', { text: k }), el('dd', null, [v === '' || v == null ? '—' : v]));
    return d;
  }

  function badge(status) {
    const known = STATUSES.concat(['pending', 'failed', 'delivered', 'enabled', 'disabled']);
    return el('span', { class: 'badge ' + (known.includes(status) ? 's-' + status : ''), text: status });
  }

  function title(text, sub) {
    return el('div', { class: 'title' }, [el('h1', { text }), sub ? el('p', { class: 'muted', text: sub }) : null]);
  }

  function msg(text, bad) {
    return el('p', { class: bad ? 'msg error' : 'msg', role: bad ? 'alert' : 'status', text });
  }

  function invoiceLink(comm, docNo, text) {
    return el('a', { href: '#/invoice?' + new URLSearchParams({ community: comm, doc_no: docNo }), text: text || docNo });
  }

  function field(label, input) {
    return el('label', { class: 'field' }, [el('span', { text: label }), input]);
  }

  function select(name, options, value) {
    return el('select', { name }, options.map(([v, t]) => el('option', { value: v, selected: v === value, text: t })));
  }

  /* Non-empty values of a form's fields, in order. */
  function formParams(form) {
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim() !== '') p.set(k, String(v).trim());
    return p;
  }

  /* ---- the API ---- */

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const opt = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET' && state.csrf) opt.headers['X-CSRF-Token'] = state.csrf;
    if (body !== undefined) {
      opt.headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, opt);
    } catch (e) {
      throw new ApiError(0, 'The server cannot be reached.');
    }
    let data = null;
    if (r.status !== 204) data = await r.json().catch(() => null);
    if (!r.ok) throw new ApiError(r.status, (data && data.error) || 'HTTP ' + r.status);
    return data;
  }

  /* An API failure in a page or an action: a lost session means logging in again. */
  function failed(e, where) {
    if (e.status === 401) return showLogin('Your session has ended: log in again.');
    const m = msg(e.status === 403 ? 'Refused (' + e.message + '): reload the page and retry.' : e.message, true);
    if (where) where.replaceChildren(m);
    else show(m);
  }

  async function communityCodes() {
    try {
      return (await api('GET', '/admin/api/communities')).communities.map((c) => c.code);
    } catch (e) {
      return [];
    }
  }

  /* ---- pages ---- */

  async function overview() {
    const o = await api('GET', '/admin/api/overview');
    const inv = o.invoices_today || {};
    const pay = o.payments_today || {};
    const ntf = o.notifications || {};
    const req = o.requests_last_hour || {};
    const card = (head, big, pairs, link) =>
      el('div', { class: 'card' }, [
        el('h2', { text: head }),
        el('p', { class: 'big', text: big }),
        dl(pairs),
        link || null,
      ]);
    return el('section', null, [
      title('Overview', 'Today: ' + o.day + ' (UTC' + o.utc_offset + ')'),
      el('div', { class: 'cards' }, [
        card('Invoices accepted today', inv.accepted, STATUSES.map((s) => [s, inv[s]])),
        card('Payments today', pay.count, [['amount', pay.amount]]),
        card('Notifications', ntf.pending + ntf.failed, [['pending', ntf.pending], ['failed', ntf.failed]],
          el('a', { href: '#/notifications', text: 'Failed notifications →' })),
      ]),
      el('h2', { text: 'Requests in the last hour, by error code' }),
      table(['Error code', ['Requests', 'num']], Object.keys(req).sort().map((k) => [k, req[k]]), 'No requests in the last hour.'),
    ]);
  }

  async function communities() {
    const d = await api('GET', '/admin/api/communities');
    const out = el('div');
    const toggle = async (c, button) => {
      const verb = c.enabled ? 'disable' : 'enable';
      const warn = c.enabled ? " Its partners' requests will be refused (0005)." : '';
      if (!window.confirm('Really ' + verb + ' community ' + c.code + '?' + warn)) return;
      button.disabled = true;
      try {
        const r = await api('POST', '/admin/api/communities/' + encodeURIComponent(c.code) + '/' + verb);
        state.flash = 'Community ' + r.code + ' is ' + (r.enabled ? 'enabled' : 'disabled') + '.';
        route();
      } catch (e) {
        button.disabled = false;
        failed(e, out);
      }
    };
    const rows = d.communities.map((c) => {
      const b = el('button', { type: 'button', class: c.enabled ? 'danger' : '', text: c.enabled ? 'Disable' : 'Enable' });
      b.addEventListener('click', () => toggle(c, b));
      return [
        el('strong', { text: c.code }), c.ccy, badge(c.enabled ? 'enabled' : 'disabled'),
        el('ul', { class: 'plain' }, (c.banks || []).map((k) => el('li', { text: k.bank_code + ' → ' + k.prefix }))),
        c.va_length, minutes(c.va_ttl_min), c.partial_payments ? 'yes' : 'no',
        el('span', { class: 'url', text: c.notify_url || '—' }), b,
      ];
    });
    return el('section', null, [
      title('Communities'), out,
      table(['Code', 'Currency', 'State', 'Bank channels', ['VA digits', 'num'], 'VA lifetime', 'Partial payments', 'Notify URL', ''], rows, 'No communities.'),
    ]);
  }

  function minutes(m) {
    if (m % 1440 === 0) return m / 1440 + ' d';
    if (m % 60 === 0) return m / 60 + ' h';
    return m + ' min';
  }

  async function invoices(p) {
    const codes = await communityCodes();
    const form = el('form', { id: 'search', class: 'filters', role: 'search' }, [
      field('doc_no, VA number or member code', el('input', { type: 'search', name: 'q', value: p.get('q') || '', autocomplete: 'off' })),
      field('Community', select('community', [['', 'any']].concat(codes.map((c) => [c, c])), p.get('community') || '')),
      field('Status', select('status', [['', 'any']].concat(STATUSES.map((s) => [s, s])), p.get('status') || '')),
      field('Accepted from', el('input', { type: 'date', name: 'from', value: p.get('from') || '' })),
      field('to', el('input', { type: 'date', name: 'to', value: p.get('to') || '' })),
      el('button', { type: 'submit', text: 'Search' }),
    ]);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      go('#/invoices?' + formParams(form));
    });
    const q = new URLSearchParams();
    for (const k of ['q', 'community', 'status', 'from', 'to', 'before', 'limit']) if (p.get(k)) q.set(k, p.get(k));
    const d = await api('GET', '/admin/api/invoices?' + q);
    const rows = d.invoices.map((v) => [
      invoiceLink(v.comm_code, v.doc_no), v.comm_code, v.member_code, v.member_name, v.amount, v.outstanding,
      badge(v.status), v.accepted_at, v.expires_at,
    ]);
    const pager = el('p', { class: 'pager' });
    if (p.get('before')) {
      q.delete('before');
      pager.append(el('a', { href: '#/invoices?' + q, text: '← Newest' }), ' ');
    }
    if (d.next_before !== null && d.next_before !== undefined) {
      q.set('before', d.next_before);
      pager.append(el('a', { href: '#/invoices?' + q, rel: 'next', text: 'Next page →' }));
    }
    return el('section', null, [
      title('Invoices'), form,
      table(['Doc no', 'Community', 'Member code', 'Member name', ['Amount', 'num'], ['Outstanding', 'num'], 'Status', 'Accepted', 'Expires'],
        rows, 'No invoice matches.'),
      pager,
    ]);
  }

  async function invoice(p) {
    const q = new URLSearchParams({ community: p.get('community') || '', doc_no: p.get('doc_no') || '' });
    const v = (await api('GET', '/admin/api/invoice?' + q)).invoice;
    return el('section', { id: 'invoice' }, [
      title('Invoice ' + v.doc_no),
      dl([
        ['Community', v.comm_code], ['Doc no', v.doc_no], ['Doc ref no', v.doc_ref_no], ['Member code', v.member_code],
        ['Member name', v.member_name], ['Description', v.description], ['Amount', v.amount],
        ['Total amount', v.total_amount], ['Outstanding', v.outstanding], ['Status', badge(v.status)],
        ['Accepted', v.accepted_at], ['Expires', v.expires_at], ['rq_uuid', v.rq_uuid],
      ]),
      el('h2', { text: 'Virtual accounts' }),
      table(['Bank', 'VA number'], (v.list_va || []).map((a) => [a.bank_code, a.va_number]), 'No VA numbers.'),
      el('h2', { text: 'Payments' }),
      el('div', { id: 'payments' }, [
        table(['Payment ref', 'Bank', 'VA number', ['Amount', 'num'], 'Paid at'],
          (v.payments || []).map((y) => [y.payment_ref, y.bank_code, y.va_number, y.amount, y.paid_at]), 'No payments.'),
      ]),
      el('h2', { text: 'Notifications' }),
      (v.notifications || []).length ? el('div', null, v.notifications.map(notification)) : el('p', { class: 'muted', text: 'No notifications.' }),
    ]);
  }

  function notification(n) {
    return el('div', { class: 'card wide' }, [
      el('h3', null, ['Payment ' + n.payment_ref + ' ', badge(n.status)]),
      dl([['Attempts', n.attempts], ['URL', el('span', { class: 'url', text: n.url })], ['Last error', n.last_error], ['Next attempt', n.next_at]]),
      table(['#', 'At', 'Outcome', 'Error'],
        (n.attempts_log || []).map((a, i) => [i + 1, a.at, badge(a.delivered ? 'delivered' : 'failed'), a.error]), 'No attempt yet.'),
      n.status === 'failed' ? retryButton(n.id) : null,
    ]);
  }

  /* After the retry the page is shown again, as the server now sees it. */
  function retryButton(id) {
    const b = el('button', { type: 'button', class: 'retry', text: 'Retry now' });
    const note = el('span', { class: 'note' });
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const r = await api('POST', '/admin/api/notifications/' + encodeURIComponent(id) + '/retry');
        state.flash = 'Notification ' + r.id + ' is ' + r.status + ', due now.';
        route();
      } catch (e) {
        b.disabled = false;
        failed(e, note);
      }
    });
    return el('span', { class: 'actions' }, [b, note]);
  }

  async function notifications(p) {
    const which = p.get('status') === 'all' ? 'all' : 'failed';
    const d = await api('GET', '/admin/api/notifications' + (which === 'failed' ? '?status=failed' : ''));
    const pick = select('status', [['failed', 'failed'], ['all', 'pending and failed']], which);
    pick.addEventListener('change', () => go('#/notifications?status=' + pick.value));
    // the action first: it stays in sight when the table scrolls sideways
    const rows = d.notifications.map((n) => [
      n.status === 'failed' ? retryButton(n.id) : '', n.id, n.comm_code, invoiceLink(n.comm_code, n.doc_no),
      n.payment_ref, n.bank_code, n.va_number, n.amount, badge(n.status), n.attempts, n.last_error, n.next_at,
    ]);
    return el('section', null, [
      title('Notifications', 'Payment notifications to partners that are not delivered.'),
      el('div', { class: 'filters' }, [field('Show', pick)]),
      table(['', 'ID', 'Community', 'Doc no', 'Payment ref', 'Bank', 'VA number', ['Amount', 'num'], 'Status', ['Attempts', 'num'], 'Last error', 'Next attempt'],
        rows, which === 'failed' ? 'No failed notifications.' : 'Every notification is delivered.'),
    ]);
  }

  async function reports() {
    const codes = await communityCodes();
    const link = el('a', { class: 'button', text: 'Download the payments report' });
    const form = el('form', { id: 'report', class: 'filters' }, [
      field('From', el('input', { type: 'date', name: 'from', required: true })),
      field('To', el('input', { type: 'date', name: 'to', required: true })),
      field('Community', select('community', [['', 'all']].concat(codes.map((c) => [c, c])), '')),
      field('Bank code', el('input', { type: 'text', name: 'bank', inputmode: 'numeric', pattern: '[0-9]{1,8}', size: 6 })),
      field('Format', select('format', [['csv', 'CSV'], ['json', 'JSON']], 'csv')),
    ]);
    const update = () => {
      const ok = form.checkValidity();
      link.classList.toggle('disabled', !ok);
      if (ok) link.setAttribute('href', '/admin/api/reports/payments?' + formParams(form));
      else link.removeAttribute('href');
    };
    form.addEventListener('input', update);
    form.addEventListener('change', update);
    form.addEventListener('submit', (ev) => ev.preventDefault());
    update();
    return el('section', null, [
      title('Reports', 'The reconciliation report of `vabill report payments`: payments made between two days, both included.'),
      form, el('p', null, [link]),
    ]);
  }

  /* ---- routing, login, logout ---- */

  const pages = { overview, communities, invoices, invoice, notifications, reports };

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  async function route() {
    if (!state.csrf) return;
    const h = location.hash.replace(/^#\/?/, '');
    const i = h.indexOf('?');
    const name = i < 0 ? h : h.slice(0, i);
    const page = Object.prototype.hasOwnProperty.call(pages, name) ? name : 'overview';
    const nav = page === 'invoice' ? 'invoices' : page;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.page === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const seq = ++state.seq;
    const flash = state.flash;
    state.flash = '';
    try {
      const node = await pages[page](new URLSearchParams(i < 0 ? '' : h.slice(i + 1)));
      if (seq !== state.seq) return;
      if (flash) node.prepend(msg(flash));
      show(node);
      main.dataset.shown = location.hash; /* which route the page shows: tests wait on it */
      document.title = page + ' · vabill console';
    } catch (e) {
      if (seq === state.seq) failed(e);
    }
  }

  function loggedIn(d) {
    state.csrf = d.csrf;
    state.operator = d.operator;
    document.getElementById('who').textContent = d.operator;
    document.getElementById('top').hidden = false;
    route();
  }

  function showLogin(message) {
    state.csrf = null;
    state.seq++;
    document.getElementById('top').hidden = true;
    const token = el('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
    const note = el('div', null, message ? [msg(message, true)] : []);
    const form = el('form', { id: 'login', class: 'login' }, [
      el('h1', { text: 'vabill console' }), note,
      field('Operator token', token),
      el('button', { type: 'submit', text: 'Log in' }),
      el('p', { class: 'muted', text: 'An operator token comes from `vabill operator add NAME`.' }),
    ]);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const button = form.querySelector('button');
      button.disabled = true;
      try {
        const d = await api('POST', '/admin/api/login', { token: token.value.trim() });
        token.value = '';
        loggedIn(d);
      } catch (e) {
        const text = e.status === 401 ? 'Wrong token.' : e.status === 429 ? 'Too many attempts: wait a minute.' : e.message;
        note.replaceChildren(msg(text, true));
        button.disabled = false;
      }
    });
    show(form);
    document.title = 'Log in · vabill console';
    token.focus();
  }

  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await api('POST', '/admin/api/logout');
    } catch (e) {
      /* the session is gone either way */
    }
    showLogin('');
  });
  window.addEventListener('hashchange', route);

  api('GET', '/admin/api/session').then(loggedIn, (e) => (e.status === 401 ? showLogin('') : failed(e)));
})();
