/* Small helpers for job progress, the check-in result overlay and the camera. */
var Vision = (function () {
  function getJSON(url) {
    return fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.json(); });
  }
  /* still to be followed: queued, running, or cancelled while running and not stopped yet (j.stopping) */
  function isActive(j) { return j.state === "queued" || j.state === "running" || !!j.stopping; }

  /* Poll /api/jobs/<id> until it finishes; onUpdate(job) each time. */
  /* "2026-11-30 14:05:09" (or the time alone), as the server's pages write it (webapp/formats): same
     format and same time zone (the server's TIME_ZONE, on <body data-time-zone>), whatever the browser's. */
  var TIME_PARTS = null;
  function fmtTime(iso, timeOnly) {
    if (!iso) return "";
    if (!TIME_PARTS) {
      var opts = {year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
                  second: "2-digit", hourCycle: "h23"};
      try { TIME_PARTS = new Intl.DateTimeFormat("en-US", Object.assign({timeZone: document.body.dataset.timeZone}, opts)); }
      catch (e) { TIME_PARTS = new Intl.DateTimeFormat("en-US", opts); }  // an unknown zone name: the browser's
    }
    var p = {};
    TIME_PARTS.formatToParts(new Date(iso)).forEach(function (x) { p[x.type] = x.value; });
    var time = p.hour + ":" + p.minute + ":" + p.second;
    return timeOnly ? time : p.year + "-" + p.month + "-" + p.day + " " + time;
  }

  /* wait (seconds): ask the server to answer when the job ends or after that long (?wait=, a long
     poll: the answer comes the moment the job ends), then ask again at once while it is active. */
  function followJob(id, onUpdate, interval, fixed, wait) {
    var delay = interval || 400, url = "/api/jobs/" + id + (wait ? "?wait=" + wait : "");
    function tick() {
      getJSON(url).then(function (j) {
        onUpdate(j);
        if (isActive(j)) setTimeout(tick, wait ? 0 : (fixed ? delay : (delay = Math.min(delay * 1.3, 2000))));
      }).catch(function () { setTimeout(tick, 2000); });
    }
    tick();
  }

  function fillJobBox(box, j) {
    var p = box.querySelector("progress"), m = box.querySelector(".jobmsg");
    if (p) p.value = j.progress;
    if (m) m.textContent = j.error || j.message || j.state;
    if (m && j.error) m.className = "jobmsg err";
  }

  /* Follow every [data-follow-job] box on the page; onDone(job, box) once its job has finished. */
  function followJobBoxes(onDone, interval) {
    document.querySelectorAll("[data-follow-job]").forEach(function (box) {
      if (!box.dataset.followJob) return;
      followJob(box.dataset.followJob, function (j) {
        fillJobBox(box, j);
        if (!isActive(j)) onDone(j, box);
      }, interval);
    });
  }

  /* "2nd in the batch queue": a queued job's place in its queue (queue_position of /api/jobs/<id>), as
     templates/jobs/_queue.html writes it. */
  function queuePlace(j) {
    var n = j.queue_position, v = n % 100, th = ["th", "st", "nd", "rd"];
    return n + (th[(v - 20) % 10] || th[v] || th[0]) + " in the " + j.queue + " queue";
  }

  /* seconds -> "40 s", "5 min 30 s", "1 h 10 min", as vision/training/estimate.py's duration_text writes them */
  function duration(seconds) {
    var s = Math.max(0, Math.round(seconds)), m, h;
    if (s < 60) return Math.max(1, s) + " s";
    if (s < 600) { s = Math.round(s / 10) * 10; m = Math.floor(s / 60); s = s % 60; return m + " min" + (s ? " " + s + " s" : ""); }
    m = Math.round(s / 60);
    if (m < 60) return m + " min";
    h = Math.floor(m / 60); m = m % 60;
    return h + " h" + (m ? " " + m + " min" : "");
  }
  /* "About 5 min left" for a running job (eta_seconds of /api/jobs/<id>: from its own pace), else "" */
  function timeLeft(j) {
    return j.state === "running" && j.eta_seconds !== null && j.eta_seconds !== undefined
      ? "About " + duration(j.eta_seconds) + " left" : "";
  }

  function autoRefreshWhileActive() {
    if (document.querySelector(".badge.queued, .badge.running, .badge.stopping")) setTimeout(function () { location.reload(); }, 2500);
  }

  var SVG = "http://www.w3.org/2000/svg";
  function drawFaces(svg, list, faces) {
    svg.innerHTML = ""; list.innerHTML = "";
    faces.forEach(function (f, i) {
      var b = f.box, quiet = f.status === "background" || f.status === "too_small" || f.status === "unsure";
      var color = quiet ? "#6b7280" : f.member_id ? (f.status === "repeat" ? "#d97706" : "#16a34a") : "#dc2626";
      var r = document.createElementNS(SVG, "rect");
      r.setAttribute("x", b[0]); r.setAttribute("y", b[1]);
      r.setAttribute("width", b[2] - b[0]); r.setAttribute("height", b[3] - b[1]);
      r.setAttribute("fill", "none"); r.setAttribute("stroke", color);
      r.setAttribute("stroke-width", Math.max(2, (b[2] - b[0]) / 30));
      svg.appendChild(r);
      var t = document.createElementNS(SVG, "text");
      var size = Math.max(12, (b[2] - b[0]) / 6);
      t.setAttribute("x", b[0]); t.setAttribute("y", Math.max(size, b[1] - 4));
      t.setAttribute("fill", color); t.setAttribute("font-size", size); t.setAttribute("font-weight", "700");
      t.setAttribute("paint-order", "stroke"); t.setAttribute("stroke", "#fff"); t.setAttribute("stroke-width", size / 6);
      t.textContent = (i + 1) + ". " + f.name;
      svg.appendChild(t);
      var li = document.createElement("li");
      li.className = f.status;
      var what = {logged: "checked in", stranger: "not a member: logged as a stranger",
        unsure: "not sure who this is: look at the camera and try again (not logged)",
        background: "behind the person checking in: not logged", too_small: "too far away: come closer and try again (not logged)"
      }[f.status] || (f.status === "repeat" ? "already checked in at " + fmtTime(f.previous_at, true) + ", not logged again" : f.status);
      var dist = f.distance === null ? "" : " · distance " + f.distance.toFixed(3) +
        (f.margin === null || f.member_id === null ? "" : " (margin " + f.margin.toFixed(3) + ")");  // a stranger's margin means nothing to a reader
      li.textContent = (i + 1) + ". " + f.name + " — " + what + dist;
      list.appendChild(li);
    });
  }

  function checkinResult(el) {
    var box = el.querySelector(".jobbox"), svg = el.querySelector("#overlay"), list = el.querySelector("#faces");
    function show(j) {
      fillJobBox(box, j);
      if (!isActive(j)) {
        box.querySelector("progress").hidden = true;
        if (j.result && j.result.faces) drawFaces(svg, list, j.result.faces);
        if (j.result && j.result.no_face) {  // an outcome, not an error: the job's sentence says what to do, once
          box.querySelector(".jobmsg").className = "jobmsg no_face";
        }
      }
    }
    var data = JSON.parse(document.getElementById("job-data").textContent || "null");
    if (!data) { fillJobBox(box, {message: "No job was started for this photo.", progress: 0}); return; }
    show(data);
    if (isActive(data)) followJob(data.id, show, 100, true, 2);  // a kiosk waits on this: answered as it ends
  }

  function cameraCheckin() {
    var startBtn = document.getElementById("start-cam"), wrap = document.querySelector(".camera");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { startBtn.hidden = true; return; }
    startBtn.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({video: {facingMode: "user"}}).then(function (stream) {
        var v = document.getElementById("cam"); v.srcObject = stream; wrap.hidden = false; startBtn.hidden = true;
      }).catch(function (e) { alert("The camera is not available: " + e.message); });
    });
    // A burst of frames a moment apart: the server logs the person only when the frames agree (issue 18).
    document.getElementById("snap").addEventListener("click", function () {
      var v = document.getElementById("cam"), form = document.getElementById("checkin-form");
      var n = Math.max(1, parseInt(form.dataset.burst || "1", 10)), blobs = [], btn = this;
      btn.disabled = true; btn.textContent = "Hold still…";
      function grab() {
        var c = document.createElement("canvas");
        c.width = v.videoWidth; c.height = v.videoHeight; c.getContext("2d").drawImage(v, 0, 0);
        c.toBlob(function (blob) {
          blobs.push(blob);
          if (blobs.length < n) { setTimeout(grab, 150); return; }
          var fd = new FormData(form);
          fd.set("photo", blobs[0], "camera.jpg"); fd.set("source", "camera");
          blobs.slice(1).forEach(function (b, i) { fd.append("frames", b, "camera-" + (i + 2) + ".jpg"); });
          fetch(form.action || location.href, {method: "POST", body: fd, credentials: "same-origin"})
            .then(function (r) { if (r.redirected) location.href = r.url; else return r.text().then(function (h) { document.open(); document.write(h); document.close(); }); });
        }, "image/jpeg", 0.92);
      }
      grab();
    });
  }

  /* Line chart of per-epoch training (blue) and validation (orange) values. */
  // Training curves of a job's history: the head's epochs, then the fine-tuning epochs
  // (history keys fine_tune_*) after a dashed line.
  function drawHistory(lossSvg, accSvg, h) {
    h = h || {};
    function cat(a, b) { return (a || []).concat(b || []); }
    var mark = (h.fine_tune_loss && h.fine_tune_loss.length) ? {at: (h.loss || []).length, label: "fine-tuning"} : null;
    drawCurves(lossSvg, cat(h.loss, h.fine_tune_loss), cat(h.val_loss, h.fine_tune_val_loss), null, mark);
    drawCurves(accSvg, cat(h.accuracy, h.fine_tune_accuracy), cat(h.val_accuracy, h.fine_tune_val_accuracy), [0, 1], mark);
  }

  // A text-line reader's curves (vision.training.ocr): CTC loss, then the validation lines' full-line
  // accuracy and character error rate (0..1, or up to its largest value: a CER can pass 1).
  function drawOcrHistory(lossSvg, accSvg, cerSvg, h) {
    h = h || {};
    drawCurves(lossSvg, h.loss, h.val_loss, null);
    drawCurves(accSvg, [], h.val_accuracy, [0, 1]);
    drawCurves(cerSvg, [], h.val_cer, [0, Math.max.apply(null, [1].concat(h.val_cer || []))]);
  }

  // A detector's curves (vision.training.detector): total, classification (focal) and box (IoU) losses,
  // then the validation mAP@0.5; fine-tuning epochs (fine_tune_*) after a dashed line, as drawHistory.
  function drawDetectorHistory(lossSvg, classSvg, boxSvg, mapSvg, h) {
    h = h || {};
    function cat(k) { return (h[k] || []).concat(h["fine_tune_" + k] || []); }
    var mark = (h.fine_tune_loss && h.fine_tune_loss.length) ? {at: (h.loss || []).length, label: "fine-tuning"} : null;
    drawCurves(lossSvg, cat("loss"), cat("val_loss"), null, mark);
    drawCurves(classSvg, cat("class_loss"), [], null, mark);
    drawCurves(boxSvg, cat("box_loss"), [], null, mark);
    drawCurves(mapSvg, [], cat("val_map"), [0, 1], mark);
  }

  function drawCurves(svg, train, val, range, mark) {
    if (!svg) return;
    svg.innerHTML = "";
    var series = [[train || [], "#2456d3"], [val || [], "#e8590c"]];
    var all = [].concat(train || [], val || []).filter(function (v) { return v !== null && isFinite(v); });
    if (!all.length) { var t = document.createElementNS(SVG, "text"); t.setAttribute("x", 10); t.setAttribute("y", 90);
      t.setAttribute("fill", "#6b7280"); t.setAttribute("font-size", 12); t.textContent = "Curves appear after the first epoch."; svg.appendChild(t); return; }
    var lo = range ? range[0] : Math.min.apply(null, all), hi = range ? range[1] : Math.max.apply(null, all);
    if (hi - lo < 1e-9) hi = lo + 1;
    var n = Math.max((train || []).length, (val || []).length), W = 320, H = 180, P = 28;
    function x(i) { return P + (n <= 1 ? 0 : i * (W - P - 8) / (n - 1)); }
    function y(v) { return H - P + 8 - (v - lo) / (hi - lo) * (H - P - 8); }
    [lo, hi].forEach(function (v) { var t = document.createElementNS(SVG, "text"); t.setAttribute("x", 2); t.setAttribute("y", y(v) + 4);
      t.setAttribute("font-size", 10); t.setAttribute("fill", "#6b7280"); t.textContent = (+v).toFixed(2); svg.appendChild(t); });
    var ax = document.createElementNS(SVG, "text"); ax.setAttribute("x", W - 60); ax.setAttribute("y", H - 4);
    ax.setAttribute("font-size", 10); ax.setAttribute("fill", "#6b7280"); ax.textContent = n + " epoch" + (n === 1 ? "" : "s"); svg.appendChild(ax);
    if (mark && mark.at > 0 && mark.at < n) {
      var mx = (x(mark.at - 1) + x(mark.at)) / 2, ln = document.createElementNS(SVG, "line");
      ln.setAttribute("x1", mx); ln.setAttribute("x2", mx); ln.setAttribute("y1", 8); ln.setAttribute("y2", H - P + 8);
      ln.setAttribute("stroke", "#6b7280"); ln.setAttribute("stroke-dasharray", "4 3"); svg.appendChild(ln);
      // near the right edge the label goes left of the line, so it is not cut off
      var right = mx > W - 70, lt = document.createElementNS(SVG, "text");
      lt.setAttribute("x", right ? mx - 3 : mx + 3); lt.setAttribute("y", H - P + 4);
      if (right) lt.setAttribute("text-anchor", "end");
      lt.setAttribute("font-size", 10); lt.setAttribute("fill", "#6b7280"); lt.textContent = mark.label; svg.appendChild(lt);
    }
    series.forEach(function (s) {
      var pts = s[0].map(function (v, i) { return v === null ? null : x(i) + "," + y(v); }).filter(Boolean);
      if (!pts.length) return;
      var pl = document.createElementNS(SVG, "polyline"); pl.setAttribute("points", pts.join(" "));
      pl.setAttribute("fill", "none"); pl.setAttribute("stroke", s[1]); pl.setAttribute("stroke-width", 2); svg.appendChild(pl);
    });
  }

  function escape(text) { var d = document.createElement("div"); d.textContent = text; return d.innerHTML; }

  return {duration: duration, timeLeft: timeLeft, fmtTime: fmtTime, isActive: isActive, followJobBoxes: followJobBoxes, escape: escape, drawCurves: drawCurves, drawHistory: drawHistory, drawOcrHistory: drawOcrHistory, drawDetectorHistory: drawDetectorHistory, followJob: followJob, fillJobBox: fillJobBox, autoRefreshWhileActive: autoRefreshWhileActive, queuePlace: queuePlace,
          checkinResult: checkinResult, cameraCheckin: cameraCheckin};
})();
