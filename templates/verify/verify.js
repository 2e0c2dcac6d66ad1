// The /verify page: camera → QR texts → POST /v1/verify → a large verdict in Japanese and
// English. BarcodeDetector where the browser has it, the bundled jsQR otherwise.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const video = $("video"), canvas = $("canvas"), status = $("status");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  let detector = null, busy = false, scanning = true;
  const chunks = new Map(); // legacy shc:/C/N/ codes, by C, for one N
  let chunkTotal = 0;

  const LABEL = {
    "valid": "有効 / VALID",
    "invalid": "無効 / INVALID",
    "unknown-issuer": "発行者不明 / UNKNOWN ISSUER",
  };

  function say(ja, en) { status.textContent = ja + " / " + en; }

  function show(report) {
    const r = $("result");
    r.dataset.verdict = report.verdict;
    $("verdict").textContent = LABEL[report.verdict] || report.verdict;
    $("reason").textContent = report.verdict === "valid" ? "" : report.reason + ": " + report.message;
    // Personal data is shown as verified only for a valid certificate.
    const trusted = report.verdict === "valid";
    $("details").hidden = !trusted;
    $("name").textContent = trusted && report.person ? report.person.name : "";
    $("dob").textContent = trusted && report.person ? (report.person.birth_date || "") : "";
    const passport = trusted && report.person ? (report.person.document_number || "") : "";
    $("passport").textContent = passport;
    $("passport").hidden = $("passport-label").hidden = !passport;
    // The trust store's name for the issuer (e.g. the Digital Agency) beside what it signed as.
    const issuer = report.issuer;
    $("issuer").textContent = !issuer ? ""
      : issuer.trusted_as ? issuer.trusted_as + " (" + issuer.id + ")" : issuer.id;
    const ol = $("doses");
    ol.textContent = "";
    for (const d of (trusted ? report.doses : [])) {
      const li = document.createElement("li");
      const product = d.product_name && d.product && d.product_name !== d.product
        ? d.product_name + " (" + d.product + ")" : (d.product_name || d.product || "");
      li.textContent = [d.date, product, d.lot ? "lot " + d.lot : ""].join(" ").trim();
      ol.appendChild(li);
    }
    say("結果を表示しています", "Result shown");
  }

  async function verifyTexts(texts) {
    busy = true;
    say("検証しています…", "Verifying…");
    try {
      const resp = await fetch("/v1/verify", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ texts }),
      });
      const body = await resp.json();
      if (!resp.ok) {
        say("エラー: " + body.code, "Error: " + body.code);
        return;
      }
      scanning = false;
      show(body.results[0]);
    } catch (e) {
      say("通信できません", "Cannot reach the verifier");
    } finally {
      busy = false;
    }
  }

  function onCode(text) {
    if (busy || !scanning || !text) return;
    const m = /^shc:\/(\d+)\/(\d+)\//i.exec(text);
    if (m) {
      const c = Number(m[1]), n = Number(m[2]);
      if (n !== chunkTotal) { chunks.clear(); chunkTotal = n; }
      chunks.set(c, text);
      if (chunks.size < n) {
        say("分割QR " + chunks.size + "/" + n + " を読みました", "Read chunk " + chunks.size + " of " + n);
        return;
      }
      const all = [...chunks.values()];
      chunks.clear();
      verifyTexts(all);
      return;
    }
    verifyTexts([text]);
  }

  async function tick() {
    if (scanning && !busy && video.readyState >= 2 && video.videoWidth > 0) {
      try {
        if (detector) {
          const codes = await detector.detect(video);
          if (codes.length) onCode(codes[0].rawValue);
        } else if (window.jsQR) {
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          ctx.drawImage(video, 0, 0);
          const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
          if (code && code.data) onCode(code.data);
        }
      } catch (e) { /* a frame that cannot be read: try the next */ }
    }
    setTimeout(tick, 150);
  }

  async function start() {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch (e) { detector = null; }
    }
    document.body.dataset.decoder = detector ? "BarcodeDetector" : "jsQR";
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
      video.srcObject = stream;
      await video.play();
      say("QRコードをカメラに向けてください", "Show the QR code to the camera");
    } catch (e) {
      say("カメラを使えません。文字列か画像で検証できます", "No camera: paste the text or choose an image");
    }
    tick();
  }

  $("again").addEventListener("click", () => {
    $("result").dataset.verdict = "";
    scanning = true;
    say("QRコードをカメラに向けてください", "Show the QR code to the camera");
  });
  $("verify-text").addEventListener("click", () => {
    const t = $("text").value.trim();
    if (t) verifyTexts(t.split(/\s*\n\s*/).filter(Boolean));
  });
  $("file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    const bytes = new Uint8Array(await f.arrayBuffer());
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    busy = true;
    try {
      const resp = await fetch("/v1/verify", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ image_base64: btoa(bin) }),
      });
      const body = await resp.json();
      if (resp.ok) { scanning = false; show(body.results[0]); } else say("エラー: " + body.code, "Error: " + body.code);
    } finally { busy = false; }
  });
  start();
})();
