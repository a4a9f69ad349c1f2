/* The annotation screen (no build step): the photo with an SVG overlay whose
   viewBox is the photo's pixel size, so every coordinate on screen converts to
   original pixels of the EXIF-corrected photo whatever the zoom. Pointer
   events cover mouse, pen and touch. Every change is saved at once through
   the JSON API (CSRF header); a 409 (someone else changed the box) reloads
   the photo's boxes and says so. Also the Detect result overlay. */
var Annotate = (function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#0a9396", "#f032e6", "#9a6324", "#808000", "#000075"];
  var MIN_SIDE = 2;  // original pixels: smaller drags are clicks, not boxes

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf()},
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : {}; } catch (e) { data = {message: "The server answered " + r.status + "."}; }
        return {status: r.status, ok: r.ok, data: data};
      });
    });
  }

  function el(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }

  var fmtTime = Vision.fmtTime;

  function init(root) {
    var data = JSON.parse(document.getElementById("ann-data").textContent);
    var img = data.image, W = img.width, H = img.height;
    var boxes = data.boxes, classes = data.classes;
    var stage = document.getElementById("stage"), canvas = document.getElementById("canvas");
    var svg = document.getElementById("ann-svg"), status = document.getElementById("status");
    var selectedId = null, currentClass = classes.length ? classes[0].id : null;
    var zoom = 1, panX = 0, panY = 0, panMode = false, spaceDown = false;
    var drag = null, pointers = {}, pinch = null, pending = 0, tempId = -1;
    var queue = Promise.resolve();

    function say(msg, kind) { status.textContent = msg || ""; status.className = "small " + (kind || ""); }
    function classById(id) { for (var i = 0; i < classes.length; i++) if (classes[i].id === id) return classes[i]; return null; }
    function colorOf(cid) { var c = classById(cid); return COLORS[((c ? c.label_map_id : 1) - 1) % COLORS.length]; }
    function boxById(id) { for (var i = 0; i < boxes.length; i++) if (boxes[i].id === id) return boxes[i]; return null; }

    /* ---- view: zoom and pan ---- */
    function fitZoom() {
      var r = stage.getBoundingClientRect();
      return Math.min(r.width / W, r.height / H) || 1;
    }
    function applyView() {
      canvas.style.width = (W * zoom) + "px";
      canvas.style.height = (H * zoom) + "px";
      canvas.style.transform = "translate(" + panX + "px," + panY + "px)";
      svg.style.setProperty("--px", (1 / zoom).toFixed(4));  // one screen pixel, in photo pixels
      render();
    }
    function fit() {
      zoom = fitZoom();
      var r = stage.getBoundingClientRect();
      panX = (r.width - W * zoom) / 2; panY = (r.height - H * zoom) / 2;
      applyView();
    }
    function zoomAt(factor, cx, cy) {
      var r = stage.getBoundingClientRect();
      var x = cx === undefined ? r.width / 2 : cx - r.left, y = cy === undefined ? r.height / 2 : cy - r.top;
      var nz = Math.max(fitZoom() / 4, Math.min(40, zoom * factor));
      panX = x - (x - panX) * nz / zoom; panY = y - (y - panY) * nz / zoom; zoom = nz;
      applyView();
    }
    /* client coordinates -> original photo pixels */
    function toImage(ev) {
      var r = svg.getBoundingClientRect();
      return {x: (ev.clientX - r.left) * W / r.width, y: (ev.clientY - r.top) * H / r.height};
    }
    function clampBox(b) {
      var x0 = Math.max(0, Math.min(W, Math.min(b[0], b[2]))), x1 = Math.max(0, Math.min(W, Math.max(b[0], b[2])));
      var y0 = Math.max(0, Math.min(H, Math.min(b[1], b[3]))), y1 = Math.max(0, Math.min(H, Math.max(b[1], b[3])));
      return [round(x0), round(y0), round(x1), round(y1)];
    }
    function round(v) { return Math.round(v * 100) / 100; }

    /* ---- drawing ---- */
    function render() {
      svg.innerHTML = "";
      var px = 1 / zoom;
      boxes.forEach(function (b) {
        var color = colorOf(b.class_id), sel = b.id === selectedId;
        var g = el("g", {"class": "ann-box" + (b.accepted ? "" : " machine") + (sel ? " selected" : ""), "data-id": b.id}, svg);
        var r = el("rect", {x: b.xmin, y: b.ymin, width: b.xmax - b.xmin, height: b.ymax - b.ymin, stroke: color,
          "stroke-width": (sel ? 3 : 2) * px, fill: sel ? "rgba(255,255,255,.12)" : "rgba(0,0,0,0)",
          "stroke-dasharray": b.accepted ? "" : (6 * px) + " " + (4 * px), "data-part": "body"}, g);
        var who = b.source === "machine" ? (b.detector + " " + (b.score === null ? "" : b.score.toFixed(2))) : (b.created_by || "");
        el("title", {}, r).textContent = b.class_name + " — " + (b.source === "machine" ? "machine: " : "drawn by ") + who + ", " + fmtTime(b.created_at);
        var fs = 13 * px, above = b.ymin - 3 * px >= fs;  // a box at the photo's top edge gets its label inside, below the handles
        var t = el("text", {x: b.xmin + 2 * px, y: above ? b.ymin - 3 * px : b.ymin + fs + 6 * px, "font-size": fs, fill: color,
          stroke: "#fff", "stroke-width": 3 * px, "paint-order": "stroke", "font-weight": 700, "pointer-events": "none"}, g);
        t.textContent = (classById(b.class_id) || {label_map_id: "?"}).label_map_id + " " + b.class_name + (b.accepted ? "" : " ?");
        if (sel) handles(b, g, px, color);
      });
      if (drag && drag.kind === "draw" && drag.box) {
        var d = clampBox(drag.box);
        el("rect", {x: d[0], y: d[1], width: d[2] - d[0], height: d[3] - d[1], fill: "rgba(36,86,211,.15)",
          stroke: colorOf(currentClass), "stroke-width": 2 * px, "pointer-events": "none", "class": "ann-new"}, svg);
      }
      sidePanel();
    }
    function handles(b, g, px, color) {
      var s = 9 * px, xs = {w: b.xmin, c: (b.xmin + b.xmax) / 2, e: b.xmax}, ys = {n: b.ymin, m: (b.ymin + b.ymax) / 2, s: b.ymax};
      ["nw", "n", "ne", "e", "se", "s", "sw", "w"].forEach(function (h) {
        var x = h.indexOf("w") >= 0 ? xs.w : h.indexOf("e") >= 0 ? xs.e : xs.c;
        var y = h.indexOf("n") >= 0 ? ys.n : h.indexOf("s") >= 0 ? ys.s : ys.m;
        el("rect", {x: x - s / 2, y: y - s / 2, width: s, height: s, fill: "#fff", stroke: color, "stroke-width": 1.5 * px,
          "data-part": "handle", "data-handle": h, "class": "ann-handle h-" + h}, g);
      });
    }

    function sidePanel() {
      var list = document.getElementById("boxes");
      list.innerHTML = "";
      boxes.forEach(function (b) {
        var li = document.createElement("li");
        li.className = b.id === selectedId ? "selected" : "";
        var who = b.source === "machine" ? "machine (" + b.detector + ", score " + (b.score === null ? "?" : b.score.toFixed(2)) + ")" + (b.accepted ? ", accepted by " + (b.updated_by || "?") : ", not accepted yet")
          : "drawn by " + (b.created_by || "?") + " " + fmtTime(b.created_at);
        if (b.updated_by && b.revision > 1 && b.source !== "machine") who += "; changed by " + b.updated_by + " " + fmtTime(b.updated_at);
        li.innerHTML = "";
        var sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = colorOf(b.class_id); li.appendChild(sw);
        li.appendChild(document.createTextNode(b.class_name + " [" + [b.xmin, b.ymin, b.xmax, b.ymax].map(function (v) { return Math.round(v); }).join(", ") + "] — " + who));
        li.addEventListener("click", function () { select(b.id); });
        list.appendChild(li);
      });
      document.getElementById("box-count").textContent = "(" + boxes.length + ")";
      var sel = boxById(selectedId), panel = document.getElementById("selected");
      panel.hidden = !sel;
      if (sel) {
        document.getElementById("sel-info").textContent = sel.class_name + " · xmin " + Math.round(sel.xmin) + ", ymin " +
          Math.round(sel.ymin) + ", xmax " + Math.round(sel.xmax) + ", ymax " + Math.round(sel.ymax) + " px";
        document.getElementById("accept").hidden = sel.accepted;
      }
      var cl = document.getElementById("classes");
      Array.prototype.forEach.call(cl.children, function (li) {
        var cid = +li.dataset.id, active = sel ? sel.class_id === cid : currentClass === cid;
        li.className = active ? "active" : "";
      });
      var p = data.progress;
      document.getElementById("progress-text").textContent = p.annotated + " / " + p.total + " annotated";
      var bar = document.getElementById("progress-bar"); bar.max = p.total || 1; bar.value = p.annotated;
      document.getElementById("no-objects").checked = !!img.no_objects;
    }

    function buildClasses() {
      var cl = document.getElementById("classes");
      cl.innerHTML = "";
      if (!classes.length) { cl.innerHTML = "<li class='err'>No classes yet: ask a staff member to add some.</li>"; return; }
      classes.forEach(function (c, i) {
        var li = document.createElement("li");
        li.dataset.id = c.id;
        var b = document.createElement("button");
        b.type = "button";
        b.className = "ann-class";
        b.innerHTML = "<span class='swatch'></span>";
        b.firstChild.style.background = colorOf(c.id);
        b.appendChild(document.createTextNode((i < 9 ? (i + 1) + ". " : "") + c.name));
        b.addEventListener("click", function () { chooseClass(c.id); });
        li.appendChild(b);
        cl.appendChild(li);
      });
    }

    function select(id) { selectedId = id; render(); }

    function chooseClass(cid) {
      currentClass = cid;
      var b = boxById(selectedId);
      if (b && b.class_id !== cid) {
        var before = b.class_id;
        b.class_id = cid; b.class_name = classById(cid).name;
        render();
        save(b, {class_id: cid}, function () { b.class_id = before; });
      } else render();
    }

    /* ---- saving (in order, one request at a time) ---- */
    function enqueue(fn) {
      pending++; say("Saving…");
      queue = queue.then(fn).catch(function () { say("The server could not be reached; your last change was not saved. Reload to see what is stored.", "err"); })
        .then(function () { pending--; if (!pending && status.className.indexOf("err") < 0) say("All changes saved.", "ok"); });
      return queue;
    }
    function handle(res) {
      if (res.data && res.data.progress) data.progress = res.data.progress;
      if (res.status === 409) {
        boxes = res.data.boxes || boxes; selectedId = boxById(selectedId) ? selectedId : null; render();
        say(res.data.message, "err"); return false;
      }
      if (!res.ok) { say((res.data && res.data.message) || ("Not saved (error " + res.status + ")."), "err"); return false; }
      status.className = "small";
      return true;
    }
    function create(box) {
      var tmp = {id: tempId--, class_id: currentClass, class_name: classById(currentClass).name, xmin: box[0], ymin: box[1],
        xmax: box[2], ymax: box[3], source: "human", accepted: true, revision: 0, created_by: "you", created_at: new Date().toISOString()};
      boxes.push(tmp); selectedId = tmp.id; render();
      enqueue(function () {
        return api("POST", data.api.boxes, {class_id: tmp.class_id, xmin: tmp.xmin, ymin: tmp.ymin, xmax: tmp.xmax, ymax: tmp.ymax})
          .then(function (res) {
            var i = boxes.indexOf(tmp);
            if (handle(res)) {
              if (i >= 0) boxes[i] = res.data.box;
              if (selectedId === tmp.id) selectedId = res.data.box.id;
              img.no_objects = false;
            } else if (i >= 0) { boxes.splice(i, 1); }
            render();
          });
      });
    }
    function save(b, change, undo) {
      enqueue(function () {
        if (b.id < 0) return;  // not created yet: the create carries the state
        change.revision = b.revision;
        return api("PATCH", data.api.boxes + "/" + b.id, change).then(function (res) {
          if (handle(res)) {
            var i = boxes.indexOf(b);
            if (i >= 0) boxes[i] = res.data.box;
            if (selectedId === b.id) selectedId = res.data.box.id;
          } else if (res.status !== 409 && undo) { undo(); }
          render();
        });
      });
    }
    function remove(b) {
      boxes.splice(boxes.indexOf(b), 1); selectedId = null; render();
      enqueue(function () {
        return api("DELETE", data.api.boxes + "/" + b.id, {revision: b.revision}).then(function (res) {
          if (!handle(res) && res.status !== 409) { boxes.push(b); }
          render();
        });
      });
    }

    /* ---- pointer input (mouse, pen, touch) ---- */
    stage.addEventListener("pointerdown", function (ev) {
      if (ev.button !== undefined && ev.button > 1) return;
      pointers[ev.pointerId] = {x: ev.clientX, y: ev.clientY};
      stage.setPointerCapture(ev.pointerId);
      stage.focus({preventScroll: true});
      var ids = Object.keys(pointers);
      if (ids.length === 2) {  // second finger: pinch-zoom and pan instead of drawing
        if (drag && drag.kind === "draw") drag = null;
        var a = pointers[ids[0]], c = pointers[ids[1]];
        pinch = {dist: Math.hypot(a.x - c.x, a.y - c.y), cx: (a.x + c.x) / 2, cy: (a.y + c.y) / 2};
        render(); ev.preventDefault(); return;
      }
      var p = toImage(ev), target = ev.target, part = target.getAttribute && target.getAttribute("data-part");
      var g = target.closest ? target.closest("g.ann-box") : null;
      if (panMode || spaceDown || ev.button === 1) {
        drag = {kind: "pan", sx: ev.clientX, sy: ev.clientY, px: panX, py: panY};
      } else if (g && part) {
        var b = boxById(+g.getAttribute("data-id"));
        if (!b) return;
        if (selectedId !== b.id) { selectedId = b.id; render(); }
        drag = {kind: part === "handle" ? "resize" : "move", handle: target.getAttribute("data-handle"), box: b,
                start: p, orig: [b.xmin, b.ymin, b.xmax, b.ymax], moved: false};
      } else {
        if (!currentClass) { say("Add a class first.", "err"); return; }
        selectedId = null;
        drag = {kind: "draw", start: p, box: null};
      }
      ev.preventDefault();
    });
    stage.addEventListener("pointermove", function (ev) {
      if (pointers[ev.pointerId]) pointers[ev.pointerId] = {x: ev.clientX, y: ev.clientY};
      if (pinch) {
        var ids = Object.keys(pointers);
        if (ids.length < 2) return;
        var a = pointers[ids[0]], c = pointers[ids[1]], dist = Math.hypot(a.x - c.x, a.y - c.y);
        var cx = (a.x + c.x) / 2, cy = (a.y + c.y) / 2;
        panX += cx - pinch.cx; panY += cy - pinch.cy;
        if (pinch.dist > 0) zoomAt(dist / pinch.dist, cx, cy); else applyView();
        pinch = {dist: dist, cx: cx, cy: cy};
        return;
      }
      if (!drag) return;
      var p = toImage(ev);
      if (drag.kind === "pan") {
        panX = drag.px + ev.clientX - drag.sx; panY = drag.py + ev.clientY - drag.sy; applyView(); return;
      }
      if (drag.kind === "draw") { drag.box = [drag.start.x, drag.start.y, p.x, p.y]; render(); return; }
      var dx = p.x - drag.start.x, dy = p.y - drag.start.y, o = drag.orig, b = drag.box, n;
      if (drag.kind === "move") {
        dx = Math.max(-o[0], Math.min(W - o[2], dx)); dy = Math.max(-o[1], Math.min(H - o[3], dy));
        n = [o[0] + dx, o[1] + dy, o[2] + dx, o[3] + dy];
      } else {
        var h = drag.handle;
        n = [o[0] + (h.indexOf("w") >= 0 ? dx : 0), o[1] + (h.indexOf("n") >= 0 ? dy : 0),
             o[2] + (h.indexOf("e") >= 0 ? dx : 0), o[3] + (h.indexOf("s") >= 0 ? dy : 0)];
      }
      n = clampBox(n);
      b.xmin = n[0]; b.ymin = n[1]; b.xmax = n[2]; b.ymax = n[3];
      drag.moved = drag.moved || Math.abs(dx) + Math.abs(dy) > 0;
      render();
    });
    function endPointer(ev) {
      delete pointers[ev.pointerId];
      if (pinch) { if (Object.keys(pointers).length < 2) pinch = null; drag = null; return; }
      if (!drag) return;
      var d = drag; drag = null;
      if (d.kind === "draw") {
        if (d.box) {
          var n = clampBox(d.box);
          if (n[2] - n[0] >= MIN_SIDE && n[3] - n[1] >= MIN_SIDE) { create(n); return; }
        }
        render();
      } else if (d.kind === "move" || d.kind === "resize") {
        var b = d.box;
        if (d.moved && (b.xmax - b.xmin < MIN_SIDE || b.ymax - b.ymin < MIN_SIDE)) {
          b.xmin = d.orig[0]; b.ymin = d.orig[1]; b.xmax = d.orig[2]; b.ymax = d.orig[3];
          render(); say("A box must be at least " + MIN_SIDE + " pixels wide and high.", "err"); return;
        }
        if (d.moved) save(b, {xmin: b.xmin, ymin: b.ymin, xmax: b.xmax, ymax: b.ymax}, function () {
          b.xmin = d.orig[0]; b.ymin = d.orig[1]; b.xmax = d.orig[2]; b.ymax = d.orig[3];
        });
      }
    }
    stage.addEventListener("pointerup", endPointer);
    stage.addEventListener("pointercancel", endPointer);
    stage.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      zoomAt(ev.deltaY < 0 ? 1.15 : 1 / 1.15, ev.clientX, ev.clientY);
    }, {passive: false});

    /* ---- keyboard ---- */
    document.addEventListener("keydown", function (ev) {
      if (ev.target.tagName === "INPUT" || ev.target.tagName === "TEXTAREA" || ev.target.tagName === "SELECT") return;
      var k = ev.key;
      if (k >= "1" && k <= "9" && !ev.ctrlKey && !ev.metaKey) {
        var c = classes[+k - 1]; if (c) { chooseClass(c.id); ev.preventDefault(); } return;
      }
      if ((k === "Delete" || k === "Backspace") && boxById(selectedId)) { remove(boxById(selectedId)); ev.preventDefault(); return; }
      if (k === "Enter" && boxById(selectedId) && !boxById(selectedId).accepted) { save(boxById(selectedId), {accept: true}); return; }
      if (k === "Escape") { select(null); return; }
      if (k === " ") { spaceDown = true; ev.preventDefault(); return; }
      if (k === "+" || k === "=") zoomAt(1.25);
      else if (k === "-") zoomAt(0.8);
      else if (k === "0") fit();
      else if (k === "a" || k === "A" || k === "PageUp") go(img.prev_url);
      else if (k === "d" || k === "D" || k === "PageDown") go(img.next_url);
      else if (k === "n" || k === "N") go(img.next_unannotated_url);
    });
    document.addEventListener("keyup", function (ev) { if (ev.key === " ") spaceDown = false; });

    /* ---- navigation and state ---- */
    function go(url) {
      if (!url) { say("No such photo.", ""); return; }
      queue.then(function () { location.href = url; });  // leave only once every change is saved
    }
    function link(id, url) {
      var a = document.getElementById(id);
      if (url) a.href = url; else { a.removeAttribute("href"); a.classList.add("disabled"); }
      a.addEventListener("click", function (ev) { ev.preventDefault(); go(url); });
    }
    link("prev", img.prev_url); link("next", img.next_url); link("next-todo", img.next_unannotated_url);
    document.getElementById("photo-pos").textContent = "Photo " + img.index + " of " + data.progress.total + " · " + img.name + " · " + W + "×" + H + " px";
    document.getElementById("no-objects").addEventListener("change", function (ev) {
      var want = ev.target.checked;
      enqueue(function () {
        return api("POST", data.api.state, {no_objects: want}).then(function (res) {
          if (handle(res)) { img.no_objects = res.data.image.no_objects; data.progress = res.data.progress; }
          render();
        });
      });
    });
    document.getElementById("delete").addEventListener("click", function () { var b = boxById(selectedId); if (b) remove(b); });
    document.getElementById("accept").addEventListener("click", function () { var b = boxById(selectedId); if (b) save(b, {accept: true}); });
    document.getElementById("zoom-in").addEventListener("click", function () { zoomAt(1.25); });
    document.getElementById("zoom-out").addEventListener("click", function () { zoomAt(0.8); });
    document.getElementById("zoom-fit").addEventListener("click", fit);
    document.getElementById("pan-mode").addEventListener("click", function (ev) {
      panMode = !panMode; ev.currentTarget.classList.toggle("primary", panMode); stage.classList.toggle("panning", panMode);
    });
    window.addEventListener("beforeunload", function (ev) { if (pending) { ev.preventDefault(); ev.returnValue = ""; } });
    window.addEventListener("resize", fit);

    buildClasses();
    var im = document.getElementById("ann-img");
    if (im.complete) fit(); else im.addEventListener("load", fit);
    fit();
    root.dataset.ready = "1";
  }

  /* Detect page: draw the job's boxes with class and score. */
  /* Boxes on an SVG overlay whose viewBox is the photo's pixel size (the Detect result, a
     detector's validation photos): r = {width, boxes: [{box: [x0, y0, x1, y1], label, score?}]}.
     opts.color (default red); opts.labels false: no text; opts.list: an <ol> to fill, one line per
     box, and the labels numbered (a crowded photo gets numbers only, so labels do not cover each other). */
  function drawBoxes(svg, r, opts) {
    opts = opts || {};
    var color = opts.color || "#e6194b", list = opts.list;
    var lw = Math.max(2, r.width / 250), crowded = list && r.boxes.length > 8;
    r.boxes.forEach(function (d, i) {
      var b = d.box, score = typeof d.score === "number" ? " " + d.score.toFixed(2) : "";
      el("rect", {x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1], fill: "none", stroke: color, "stroke-width": lw}, svg);
      if (opts.labels !== false) {
        var text = crowded ? String(i + 1) : (list ? (i + 1) + ". " : "") + d.label + score;
        var size = Math.max(12, Math.min(r.width / 45, (b[2] - b[0]) / 2.5));
        var right = b[0] + text.length * size * 0.6 > r.width;  // would run off the photo: end it at the box's right side
        var t = el("text", {x: right ? b[2] : b[0], y: Math.max(size, b[1] - 4), "font-size": size, fill: color,
          "text-anchor": right ? "end" : "start", stroke: "#fff", "stroke-width": size / 6, "paint-order": "stroke",
          "font-weight": 700}, svg);
        t.textContent = text;
      }
      if (list) {
        var li = document.createElement("li");
        li.textContent = d.label + (score ? " · score " + d.score.toFixed(3) : "") + " · [" + b.map(Math.round).join(", ") + "]";
        list.appendChild(li);
      }
    });
  }

  function detectResult(section) {
    var box = section.querySelector(".jobbox"), svg = section.querySelector("#overlay"), list = section.querySelector("#found");
    function draw(r) {
      svg.innerHTML = ""; list.innerHTML = "";
      drawBoxes(svg, r, {list: list});
      if (!r.boxes.length) list.innerHTML = "<li>Nothing found.</li>";
    }
    function show(j) {
      Vision.fillJobBox(box, j);
      if (j.state !== "queued" && j.state !== "running") {
        box.querySelector("progress").hidden = true;
        if (j.result && j.result.boxes) draw(j.result);
      }
    }
    var job = JSON.parse(document.getElementById("job-data").textContent || "null");
    if (!job) return;
    show(job);
    if (job.state === "queued" || job.state === "running") Vision.followJob(job.id, show, 300);
  }

  var root = document.getElementById("annotator");
  if (root) init(root);
  return {detectResult: detectResult, drawBoxes: drawBoxes};
})();
