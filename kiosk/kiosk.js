// The kiosk's touch-screen flow. State lives only in this page's memory and in the local
// agent; every restart wipes both. The PIN goes only to the local agent, which gives it only to
// the card.
'use strict';

const IDLE_MS = 60000;
const POLL_MS = 700;

const flow = { municipality: null, kind: null, pin: '', reading: false, terms: null };
let screen = 'start';
let idleTimer = null;
let pollTimer = null;

const $ = (sel) => document.querySelector(sel);

function show(name) {
  screen = name;
  document.querySelectorAll('.screen').forEach((s) => { s.hidden = s.id !== 'screen-' + name; });
  const step = $('#screen-' + name).dataset.step;
  let reached = true;
  document.querySelectorAll('#steps li').forEach((li) => {
    li.classList.toggle('current', li.dataset.step === step);
    if (li.dataset.step === step) reached = false;
    li.classList.toggle('done', Boolean(step) && reached);
  });
  $('#steps').hidden = !step;
  document.body.dataset.screen = name;
}

function say(ja, en) {
  if (!('speechSynthesis' in window)) return;
  try {
    window.speechSynthesis.cancel();
    const a = new SpeechSynthesisUtterance(ja); a.lang = 'ja-JP';
    const b = new SpeechSynthesisUtterance(en); b.lang = 'en-US';
    window.speechSynthesis.speak(a);
    window.speechSynthesis.speak(b);
  } catch (_) { /* no voice on this machine: the screen says it */ }
}

async function api(method, path, body) {
  const r = await fetch(path, {
    method,
    cache: 'no-store',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (r.status === 204) return {};
  let data = {};
  try { data = await r.json(); } catch (_) { data = { code: 'internal' }; }
  if (!r.ok) { const e = new Error(data.code || 'internal'); e.problem = data; throw e; }
  return data;
}

function wipe() {
  flow.municipality = null; flow.kind = null; flow.pin = ''; flow.reading = false; flow.terms = null;
  renderPin();
  $('#pin-message').textContent = '';
  $('#insert-message').textContent = '';
  $('#municipality-message').textContent = '';
  $('#preview').replaceChildren();
  $('#doses tbody').replaceChildren();
}

function restart() {
  stopPolling();
  wipe();
  api('POST', '/api/reset').catch(() => {});
  if ('speechSynthesis' in window) window.speechSynthesis.cancel();
  show('start');
}

// ── idle: back to the start after 60 s without a touch ─────────────────────────────────────
function touched() {
  clearTimeout(idleTimer);
  if (screen === 'start') return;
  idleTimer = setTimeout(() => {
    if (flow.reading) { touched(); return; }
    restart();
  }, IDLE_MS);
}
['pointerdown', 'keydown', 'touchstart'].forEach((t) => document.addEventListener(t, touched, true));

// ── card presence ──────────────────────────────────────────────────────────────────────────
function stopPolling() { clearInterval(pollTimer); pollTimer = null; }

async function cardPresent() {
  const s = await api('GET', '/api/card');
  return s.present;
}

function watchCard() {
  stopPolling();
  pollTimer = setInterval(async () => {
    let present;
    try { present = await cardPresent(); } catch (_) { return; }
    if (screen === 'insert' && present) {
      show('pin'); touched();
    } else if (screen === 'done' && !present) {
      restart();
    } else if (!present && ['pin', 'kind', 'confirm'].includes(screen)) {
      cardPulled();
    }
  }, POLL_MS);
}

function cardPulled() {
  stopPolling();
  wipe();
  api('POST', '/api/reset').catch(() => {});
  showError('カードが取り外されました', 'The card was removed',
    '最初からやり直してください。', 'Please start again from the beginning.');
}

function showError(titleJa, titleEn, textJa, textEn) {
  $('#error-title').innerHTML = '';
  $('#error-title').append(titleJa, span(titleEn));
  $('#error-text').innerHTML = '';
  $('#error-text').append(textJa, document.createElement('br'), span(textEn));
  show('error');
  say(titleJa + '。' + textJa, titleEn + '. ' + textEn);
}

function span(text) { const s = document.createElement('span'); s.className = 'en'; s.textContent = text; return s; }

// ── screens ────────────────────────────────────────────────────────────────────────────────
async function loadMunicipalities() {
  const box = $('#municipalities');
  box.replaceChildren();
  try {
    const list = await api('GET', '/api/municipalities');
    for (const m of list) {
      const b = document.createElement('button');
      b.className = 'choice small';
      b.dataset.code = m.code;
      b.dataset.testid = 'municipality';
      b.setAttribute('data-testid', 'municipality-' + m.code);
      b.textContent = m.name;
      b.addEventListener('click', () => { flow.municipality = m.code; show('insert'); watchCard(); });
      box.append(b);
    }
    if (!list.length) $('#municipality-message').textContent = '現在ご利用いただける市区町村はありません。 / No municipality issues at kiosks now.';
  } catch (e) {
    $('#municipality-message').textContent = problemText(e.problem);
  }
}

function renderPin() {
  document.querySelectorAll('#pin-dots span').forEach((d, i) => d.classList.toggle('on', i < flow.pin.length));
  const ok = $('[data-key="ok"]');
  if (ok) ok.disabled = flow.pin.length !== 4;
}

function key(k) {
  if (k === 'clear') flow.pin = '';
  else if (k === 'ok') { if (flow.pin.length === 4) pinEntered(); return; }
  else if (flow.pin.length < 4) flow.pin += k;
  renderPin();
}

function pinEntered() {
  // After a wrong PIN the resident has already chosen the certificate type: read at once.
  if (flow.kind) readCard(); else show('kind');
}

async function readCard() {
  const pin = flow.pin;
  flow.pin = '';
  renderPin();
  flow.reading = true;
  stopPolling();
  $('#busy-title').replaceChildren('読み取っています ', span('Reading your card'));
  show('busy');
  try {
    const r = await api('POST', '/api/read', { municipality: flow.municipality, kind: flow.kind, pin, terms_version: flow.terms });
    flow.reading = false;
    renderPreview(r.certificate);
    show('confirm');
    watchCard();
  } catch (e) {
    flow.reading = false;
    readFailed(e.problem || { code: 'internal' });
  }
}

function readFailed(p) {
  switch (p.code) {
    case 'pin-wrong': {
      const n = p.tries_left;
      $('#pin-message').replaceChildren(
        `暗証番号が違います。あと${n}回間違えるとロックされます。`, document.createElement('br'),
        span(`Wrong PIN. ${n} ${n === 1 ? 'try' : 'tries'} left before the card locks.`));
      show('pin');
      say(`暗証番号が違います。あと${n}回です。`, `Wrong PIN. ${n} tries left.`);
      watchCard();
      return;
    }
    case 'card-locked':
      wipe(); api('POST', '/api/reset').catch(() => {});
      showError('暗証番号がロックされています', 'Your card\'s PIN is locked',
        'カードをお取りになり、お住まいの市区町村の窓口でロックを解除してください。',
        'Please take your card and go to your municipality\'s office to unlock it.');
      return;
    case 'no-card': case 'card-removed':
      cardPulled();
      return;
    default:
      wipe(); api('POST', '/api/reset').catch(() => {});
      showError('証明書を発行できません', 'The certificate cannot be issued', p.title_ja || '', p.title || '');
  }
}

function problemText(p) {
  if (!p) return 'エラーが発生しました / Something went wrong';
  return `${p.title_ja || ''} / ${p.title || ''}`;
}

function row(dl, ja, en, value, testid) {
  const dt = document.createElement('dt'); dt.append(ja, span(en));
  const dd = document.createElement('dd'); dd.textContent = value;
  if (testid) dd.setAttribute('data-testid', testid);
  dl.append(dt, dd);
}

function renderPreview(c) {
  const dl = $('#preview');
  dl.replaceChildren();
  row(dl, '種類', 'Type', c.kind === 'overseas' ? '海外用 / For travel abroad' : '国内用 / For use in Japan');
  row(dl, '氏名', 'Name', c.name, 'preview-name');
  if (c.alias) row(dl, '通称', 'Alias', c.alias, 'preview-alias');
  if (c.name_roman) row(dl, '氏名（ローマ字）', 'Name (roman)', c.name_roman);
  row(dl, '生年月日', 'Date of birth', c.birth_date);
  if (c.passport_number_masked) row(dl, '旅券番号', 'Passport no.', c.passport_number_masked, 'preview-passport');
  row(dl, '発行', 'Issued by', c.municipality_name);
  const tb = $('#doses tbody');
  tb.replaceChildren();
  for (const d of c.doses) {
    const tr = document.createElement('tr');
    for (const v of [`${d.seq}`, d.date, `${d.product_ja} / ${d.product_en}`, d.lot]) {
      const td = document.createElement('td'); td.textContent = v; tr.append(td);
    }
    tb.append(tr);
  }
}

async function printCertificate() {
  stopPolling();
  flow.reading = true;
  $('#busy-title').replaceChildren('印刷しています ', span('Printing your certificate'));
  show('busy');
  try {
    await api('POST', '/api/confirm');
    flow.reading = false;
    wipe();
    show('done');
    say('カードと証明書をお取りください。', 'Please take your card and your certificate.');
    watchCard();
    setTimeout(() => { if (screen === 'done') restart(); }, 30000);
  } catch (e) {
    flow.reading = false;
    readFailed(e.problem || { code: 'internal' });
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('#start').addEventListener('click', () => { show('terms'); touched(); });
  // The version of the terms shown is what the resident accepted; the agent sends it with the
  // card read and reads no card without it.
  $('#agree').addEventListener('click', () => {
    flow.terms = $('#screen-terms').dataset.termsVersion;
    show('municipality'); loadMunicipalities();
  });
  document.querySelectorAll('[data-action="restart"]').forEach((b) => b.addEventListener('click', restart));
  document.querySelectorAll('#keypad button').forEach((b) => b.addEventListener('click', () => key(b.dataset.key)));
  document.querySelectorAll('[data-kind]').forEach((b) => b.addEventListener('click', () => { flow.kind = b.dataset.kind; readCard(); }));
  $('#print').addEventListener('click', printCertificate);
  restart();
});
