// loadgen HTML report: renders the JSON blob in #report-data with uPlot. No network, no dependencies but uPlot.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var root = document.getElementById("report");
  var charts = [];
  var COLORS = ["#1f6fb4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
  var PHASE_FILL = ["rgba(31,111,180,0.08)", "rgba(255,127,14,0.09)"];

  // ---- DOM helpers (text only: no data ever goes through innerHTML) ----
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }
  // put appends node to parent and returns node.
  function put(parent, node) {
    parent.appendChild(node);
    return node;
  }
  function section(title) {
    var s = el("section");
    add(root, s);
    add(s, el("h2", null, title));
    return s;
  }
  // table(headers, rows): a header starting with "<" is left-aligned; a cell may be {text, cls}.
  function table(headers, rows) {
    var wrap = el("div", "scroll"), t = el("table"), tr = el("tr");
    headers.forEach(function (h) {
      var left = h.charAt(0) === "<";
      add(tr, el("th", left ? "l" : null, left ? h.slice(1) : h));
    });
    add(t, add(el("thead"), tr));
    var body = el("tbody");
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c, i) {
        var left = headers[i] && headers[i].charAt(0) === "<";
        var cell = (c !== null && typeof c === "object") ? c : { text: c };
        add(row, el("td", [left ? "l" : "", cell.cls || ""].join(" ").trim() || null, cell.text === undefined ? "" : cell.text));
      });
      add(body, row);
    });
    add(t, body);
    return add(wrap, t);
  }

  // ---- formatting ----
  function num(v, d) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    return Number(v).toLocaleString("en-US", { maximumFractionDigits: d === undefined ? 1 : d, minimumFractionDigits: 0 });
  }
  function ms(v) {
    if (v === null || v === undefined) return "–";
    if (v === 0) return "0";
    if (v < 1) return num(v, 3);
    if (v < 10) return num(v, 2);
    if (v < 1000) return num(v, 1);
    return num(v, 0);
  }
  function pct(fraction) { return fraction === undefined || fraction === null ? "–" : num(100 * fraction, 2) + "%"; }
  function dur(s) {
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = (h > 0 && m < 10 ? "0" : "") + m, ss = (r < 10 ? "0" : "") + r;
    return (h > 0 ? h + ":" : "") + mm + ":" + ss;
  }
  function signed(v, d, unit) {
    if (v === null || v === undefined) return "–";
    return (v > 0 ? "+" : "") + num(v, d) + (unit || "");
  }
  var QLABELS = { 0: "p0", 1: "p90", 2: "p99", 3: "p99.9", 4: "p99.99" };

  // ---- charts ----
  function width(box) { return Math.max(320, Math.floor(box.getBoundingClientRect().width) || 560); }

  function chart(parent, title, caption, opts, rows) {
    var box = put(parent, el("div", "chart"));
    add(box, el("h3", null, title));
    var o = Object.assign({ width: width(box), height: 240, legend: { live: true }, cursor: { drag: { x: true, y: false } } }, opts);
    var u = new uPlot(o, rows, box);
    if (caption) add(box, el("div", "caption", caption));
    charts.push({ u: u, box: box });
    return u;
  }

  // Phases shaded behind a time chart, named at the top.
  function phasePlugin(phases) {
    return {
      hooks: {
        drawClear: [function (u) {
          if (!phases || !phases.length) return;
          var ctx = u.ctx, b = u.bbox, dpr = window.devicePixelRatio || 1;
          ctx.save();
          phases.forEach(function (p, i) {
            var x0 = Math.max(b.left, u.valToPos(p.start_s, "x", true));
            var x1 = Math.min(b.left + b.width, u.valToPos(p.end_s, "x", true));
            if (!(x1 > x0)) return;
            ctx.fillStyle = PHASE_FILL[i % 2];
            ctx.fillRect(x0, b.top, x1 - x0, b.height);
            ctx.fillStyle = "rgba(40,45,55,0.75)";
            ctx.font = Math.round(11 * dpr) + "px sans-serif";
            ctx.fillText(p.name, x0 + 4 * dpr, b.top + 12 * dpr, Math.max(10, x1 - x0 - 6 * dpr));
          });
          ctx.restore();
        }]
      }
    };
  }

  // Vertical markers {x, label, color} and horizontal ones {y, scale, label, color}.
  function markerPlugin(vert, horiz) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, b = u.bbox, dpr = window.devicePixelRatio || 1;
          ctx.save();
          ctx.font = Math.round(11 * dpr) + "px sans-serif";
          ctx.lineWidth = 1.5 * dpr;
          (vert || []).forEach(function (m, i) {
            var x = u.valToPos(m.x, "x", true);
            if (!(x >= b.left && x <= b.left + b.width)) return;
            ctx.strokeStyle = ctx.fillStyle = m.color;
            ctx.setLineDash([6 * dpr, 4 * dpr]);
            ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillText(m.label, x + 4 * dpr, b.top + (14 + 14 * i) * dpr);
          });
          (horiz || []).forEach(function (m) {
            var y = u.valToPos(m.y, m.scale, true);
            if (!(y >= b.top && y <= b.top + b.height)) return;
            ctx.strokeStyle = ctx.fillStyle = m.color;
            ctx.setLineDash([3 * dpr, 3 * dpr]);
            ctx.beginPath(); ctx.moveTo(b.left, y); ctx.lineTo(b.left + b.width, y); ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillText(m.label, b.left + 4 * dpr, y - 4 * dpr);
          });
          ctx.restore();
        }]
      }
    };
  }

  function timeAxes(yLabel, y2Label) {
    var axes = [{ values: function (u, vals) { return vals.map(dur); } }, { label: yLabel, size: 60 }];
    if (y2Label) axes.push({ scale: "y2", side: 1, label: y2Label, size: 60, grid: { show: false } });
    return axes;
  }

  function line(label, color, extra) {
    return Object.assign({ label: label, stroke: color, width: 1.5, spanGaps: true }, extra || {});
  }

  // Percentile-curve chart of several curves (each {name, x, ms}); styles[i] overrides a series' style.
  function curveChart(parent, title, caption, curves, styles) {
    if (!curves.length) return;
    var tables = curves.map(function (c) { return [c.x, c.ms.map(function (v) { return v > 0 ? v : null; })]; });
    var rows = tables.length === 1 ? tables[0] : uPlot.join(tables);
    var series = [{ label: "percentile", value: function (u, v) { return v === null ? "–" : "p" + num(100 * (1 - Math.pow(10, -v)), 3); } }];
    curves.forEach(function (c, i) {
      series.push(Object.assign(line(c.name + " (" + num(c.count, 0) + ")", COLORS[i % COLORS.length]),
        { value: function (u, v) { return v === null ? "–" : ms(v) + " ms"; } }, (styles && styles[i]) || {}));
    });
    chart(parent, title, caption, {
      scales: { x: { time: false, range: [0, 4] }, y: { distr: 3 } },
      axes: [
        { splits: function () { return [0, 1, 2, 3, 4]; }, values: function (u, vals) { return vals.map(function (v) { return QLABELS[v] || ""; }); } },
        { label: "latency (ms)", size: 60, values: function (u, vals) { return vals.map(function (v) { return v === null ? "" : ms(v); }); } }
      ],
      series: series
    }, rows);
  }

  // ---- sections ----
  function header(r, label) {
    var h = put(root, el("h1", null, (label ? label + ": " : "") + r.type + " run " + r.id));
    var bits = ["plan " + (r.plan || "–")];
    if (r.model) bits.push(r.model + " model");
    if (r.target) bits.push("target " + r.target);
    if (r.started_at) bits.push("started " + r.started_at.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC"));
    if (r.duration_s) bits.push("duration " + dur(r.duration_s));
    bits.push("status " + r.status);
    add(root, el("p", "meta", bits.join(" · ")));
    return h;
  }

  function verdictBox(parent, v) {
    var box = put(parent, el("div", "verdict " + (v.ok ? "ok" : "bad")));
    add(box, el("span", "word", v.word || "–"));
    var line = v.line || "";
    add(box, document.createTextNode(line.indexOf(v.word) === 0 ? line.slice(v.word.length) : " " + line));
    var ul = el("ul");
    if (v.thresholds_passed + v.thresholds_failed > 0) {
      add(ul, el("li", null, "thresholds: " + v.thresholds_passed + " passed, " + v.thresholds_failed + " failed"));
    }
    if (v.reliable !== undefined && v.reliable !== null) {
      add(ul, el("li", v.reliable ? null : "fail", "generator health: " + (v.reliable ? "reliable" : "UNRELIABLE") +
        (v.health_line ? " (" + v.health_line + ")" : "")));
      (v.health_reasons || []).forEach(function (x) { add(ul, el("li", "fail", x)); });
    }
    (v.details || []).forEach(function (x) { add(ul, el("li", null, x)); });
    if (ul.childNodes.length) add(box, ul);
  }

  function kpis(parent, r) {
    var k = put(parent, el("div", "kpis"));
    function kpi(value, label) { add(k, add(el("div", "kpi"), el("b", null, value), el("span", null, label))); }
    kpi(num(r.requests, 0), "requests");
    kpi(num(r.errors, 0) + " (" + pct(r.error_rate) + ")", "errors");
    kpi(num(r.rps, 1) + "/s", "throughput");
    if (r.latency_ms) {
      kpi(ms(r.latency_ms.p50) + " ms", "p50 (intended start)");
      kpi(ms(r.latency_ms.p99) + " ms", "p99 (intended start)");
    }
    if (r.service_ms) kpi(ms(r.service_ms.p99) + " ms", "p99 service time");
  }

  function thresholds(parent, r) {
    if (!r.thresholds.length) return;
    add(parent, el("h3", null, "Thresholds"));
    add(parent, table(["", "<threshold", "measured", "<window", "<note"], r.thresholds.map(function (t) {
      var val = t.unit === "ms" ? ms(t.value) + " ms" : t.unit === "ratio" ? pct(t.value) : num(t.value, 2) + " " + t.unit;
      var note = t.note || "";
      if (t.aborted) note = (note ? note + "; " : "") + "ended the run";
      return [{ text: t.ok ? "✓" : "✗", cls: t.ok ? "pass" : "fail" }, t.expr, val, t.window || "whole run", note];
    })));
  }

  function overTime(r) {
    var s = r.series;
    if (!s || !s.t.length) return;
    var sec = section("Over time");
    add(sec, el("p", "muted", "One point per stored snapshot; latency percentiles cover the previous 10 s. Phases are shaded."));
    var g = put(sec, el("div", "grid"));
    var ph = [phasePlugin(r.phases)];
    chart(g, "Throughput and errors", "requests completed per second, the target rate, and failed requests per second (right axis)", {
      scales: { x: { time: false }, y2: {} }, axes: timeAxes("req/s", "errors/s"), plugins: ph,
      series: [{ label: "time", value: function (u, v) { return dur(v); } }, line("throughput req/s", COLORS[0]),
        line("target rate", COLORS[7], { dash: [6, 4] }), line("errors/s", COLORS[1], { scale: "y2" })]
    }, [s.t, s.rps, s.target_rps, s.errors_ps]);
    var lat = [{ label: "time", value: function (u, v) { return dur(v); } }, line("p50", COLORS[2])];
    var rows = [s.t, s.p50];
    if (s.has_p90) { lat.push(line("p90", COLORS[3])); rows.push(s.p90); }
    lat.push(line("p99", COLORS[1]));
    rows.push(s.p99);
    if (s.has_service) {
      lat.push(line("service p50", COLORS[2], { dash: [4, 3] }), line("service p90", COLORS[3], { dash: [4, 3] }),
        line("service p99", COLORS[1], { dash: [4, 3] }));
      rows.push(s.svc_p50, s.svc_p90, s.svc_p99);
    }
    chart(g, "Latency", "solid: from the intended start (coordinated omission corrected); dashed: service time from the actual send", {
      scales: { x: { time: false } }, axes: timeAxes("ms"), plugins: ph, series: lat
    }, rows);
    chart(g, "In flight and active VUs", "requests in flight, and active virtual users (closed model) or busy iteration slots (open model)", {
      scales: { x: { time: false } }, axes: timeAxes("count"), plugins: ph,
      series: [{ label: "time", value: function (u, v) { return dur(v); } }, line("in flight", COLORS[4]), line("VUs / busy", COLORS[5])]
    }, [s.t, s.in_flight, s.vus]);
    chart(g, "Generator and host CPU", "generator process CPU (% of one core) and host CPU busy and memory in use (% of the host)", {
      scales: { x: { time: false } }, axes: timeAxes("%"), plugins: ph,
      series: [{ label: "time", value: function (u, v) { return dur(v); } }, line("generator CPU", COLORS[0]),
        line("host CPU", COLORS[1]), line("host memory", COLORS[7], { dash: [4, 3] })]
    }, [s.t, s.cpu, s.host_cpu, s.host_mem]);
  }

  function distribution(r) {
    if (!r.distribution.length) return;
    var sec = section("Latency distribution");
    add(sec, el("p", "muted", "Percentile curves from the stored histograms (≤0.55% error), whole run and per " +
      (r.bench ? "endpoint and concurrency (latency from the send to the last byte)" : "step (latency from the intended start)") +
      ". The percentile axis is logarithmic in 1/(1−q), up to p99.99."));
    var styles = r.distribution.map(function (c, i) { return i === 0 && c.name === "all steps" ? { width: 2.5, stroke: "#1d2330" } : { stroke: COLORS[i % COLORS.length] }; });
    curveChart(sec, "Percentile curve", null, r.distribution, styles);
  }

  function stepTables(r) {
    if (!r.steps.length && !r.phases.length) return;
    var sec = section("Steps and phases");
    if (r.steps.length) {
      add(sec, el("h3", null, "Per step (latency in ms, from the intended start)"));
      add(sec, table(["<step", "<method", "requests", "errors", "err%", "req/s", "p50", "p90", "p95", "p99", "p99.9", "max", "svc p50", "svc p99"],
        r.steps.map(function (s) {
          var l = s.latency_ms, v = s.service_ms;
          return [s.name, s.method || "", num(s.requests, 0), num(s.errors, 0), pct(s.error_rate), num(s.rps, 1), ms(l.p50), ms(l.p90),
            ms(l.p95), ms(l.p99), ms(l.p999), ms(l.max), v ? ms(v.p50) : "–", v ? ms(v.p99) : "–"];
        })));
    }
    var timed = r.steps.filter(function (s) { return s.timing_ms; });
    if (timed.length) {
      add(sec, el("h3", null, "Timing breakdown (ms; dns, connect and tls only on new connections)"));
      function q(x) { return x && x.count ? ms(x.p50) + " / " + ms(x.p99) + " (" + num(x.count, 0) + ")" : "–"; }
      add(sec, table(["<step", "dns p50 / p99 (n)", "connect p50 / p99 (n)", "tls p50 / p99 (n)", "wait p50 / p99 (n)", "receive p50 / p99 (n)"],
        timed.map(function (s) { var t = s.timing_ms; return [s.name, q(t.dns), q(t.connect), q(t.tls), q(t.ttfb), q(t.receive)]; })));
    }
    if (r.phases.length && r.phases.some(function (p) { return p.requests; })) {
      add(sec, el("h3", null, "Per phase (latency in ms)"));
      add(sec, table(["<phase", "start", "duration", "requests", "errors", "err%", "req/s", "p50", "p90", "p95", "p99", "p99.9", "max"],
        r.phases.map(function (p) {
          var l = p.latency_ms;
          return [p.name, dur(p.start_s), dur(p.end_s - p.start_s), num(p.requests, 0), num(p.errors, 0), pct(p.error_rate), num(p.rps, 1),
            ms(l.p50), ms(l.p90), ms(l.p95), ms(l.p99), ms(l.p999), ms(l.max)];
        })));
    }
  }

  function errors(r) {
    if (!r.error_reasons.length && !r.error_samples.length) return;
    var sec = section("Errors");
    if (r.error_reasons.length) {
      add(sec, el("h3", null, "By reason"));
      add(sec, table(["<reason", "requests", "share of errors"], r.error_reasons.map(function (e) {
        return [e.reason, num(e.count, 0), r.errors ? pct(e.count / r.errors) : "–"];
      })));
    }
    if (r.error_samples.length) {
      add(sec, el("h3", null, "Samples (the first of each distinct step, reason and message)"));
      add(sec, table(["at", "<phase", "<step", "<reason", "status", "count", "<message"], r.error_samples.map(function (e) {
        return [dur(e.at_s), e.phase || "", e.scenario + "/" + e.step, e.reason, e.status || "–", num(e.count, 0), { text: e.message, cls: "wrap" }];
      })));
    }
  }

  function stressSection(r) {
    var s = r.stress;
    if (!s) return;
    var sec = section("Stress search");
    var probes = s.probes.slice().sort(function (a, b) { return a.target_rps - b.target_rps || a.seq - b.seq; });
    if (probes.length) {
      var vert = [];
      if (s.max_sustainable_rps > 0) vert.push({ x: s.max_sustainable_rps, label: "max sustainable " + num(s.max_sustainable_rps, 1) + "/s", color: "#1a7f37" });
      if (s.breakdown_rps > 0) vert.push({ x: s.breakdown_rps, label: "breakdown " + num(s.breakdown_rps, 1) + "/s", color: "#c62828" });
      var horiz = [{ y: 100 * s.error_threshold, scale: "y", label: "error threshold " + num(100 * s.error_threshold, 1) + "%", color: "#a15c00" }];
      if (s.slo_p99_ms > 0) horiz.push({ y: s.slo_p99_ms, scale: "y2", label: "p99 SLO " + ms(s.slo_p99_ms) + " ms", color: "#9467bd" });
      var pts = { show: true, size: 8 };
      chart(sec, "Probes: error rate and p99 against the asked rate", "each point is one probe; dashed lines mark the maximum sustainable rate and the breakdown", {
        scales: { x: { time: false }, y: { range: function (u, mn, mx) { return [0, Math.max(mx, 100 * s.error_threshold) * 1.15 || 1]; } }, y2: {} },
        axes: [{ label: "asked rate (req/s)" }, { label: "error rate (%)", size: 60 }, { scale: "y2", side: 1, label: "p99 (ms)", size: 60, grid: { show: false } }],
        plugins: [markerPlugin(vert, horiz)],
        series: [{ label: "asked req/s" }, line("error rate %", COLORS[1], { points: pts, width: 1 }), line("p99 ms", COLORS[0], { scale: "y2", points: pts, width: 1, dash: [4, 3] })]
      }, [probes.map(function (p) { return p.target_rps; }), probes.map(function (p) { return p.error_pct; }), probes.map(function (p) { return p.p99_ms; })]);
    }
    add(sec, table(["#", "<phase", "asked/s", "achieved/s", "requests", "errors", "p50", "p95", "p99", "<verdict"], s.probes.map(function (p) {
      return [p.seq, p.phase, num(p.target_rps, 1), num(p.achieved_rps, 1), num(p.requests, 0), num(p.error_pct, 2) + "%", ms(p.p50_ms), ms(p.p95_ms), ms(p.p99_ms),
        { text: (p.ok ? "ok" : "FAIL") + (p.reason ? ": " + p.reason : ""), cls: p.ok ? "pass" : "fail" }];
    })));
  }

  function kneeSection(r) {
    var k = r.knee;
    if (!k) return;
    var sec = section("Knee search");
    if (k.points.length) {
      var tables = [[k.points.map(function (p) { return p.load; }), k.points.map(function (p) { return p.throughput_rps; }), k.points.map(function (p) { return p.p99_ms; })]];
      var series = [{ label: k.load_label }, line("throughput/s", COLORS[0], { points: { show: true, size: 7 } }), line("p99 ms", COLORS[1], { scale: "y2", dash: [4, 3], points: { show: true, size: 5 } })];
      if (k.fit_x.length) {
        tables.push([k.fit_x, k.fit_y]);
        series.push(line("USL fit", COLORS[2], { width: 2, points: { show: false } }));
      }
      var rows = tables.length === 1 ? tables[0] : uPlot.join(tables);
      var vert = [];
      if (k.knee) vert.push({ x: k.knee.load, label: "knee " + num(k.knee.load, 2), color: "#c62828" });
      if (k.peak_n > 0 && k.peak_n <= (k.fit_x.length ? k.fit_x[k.fit_x.length - 1] : 0)) vert.push({ x: k.peak_n, label: "USL peak N*=" + num(k.peak_n, 1), color: "#2ca02c" });
      chart(sec, "Throughput against " + k.load_label, "measured throughput and p99 per step, the Universal Scalability Law fit, and the knee", {
        scales: { x: { time: false }, y2: {} },
        axes: [{ label: k.load_label }, { label: "throughput (req/s)", size: 60 }, { scale: "y2", side: 1, label: "p99 (ms)", size: 60, grid: { show: false } }],
        plugins: [markerPlugin(vert, [])], series: series
      }, rows);
    }
    add(sec, table([k.load_label, "throughput/s", "p99 ms", "errors", "<"], k.points.map(function (p) {
      return [num(p.load, 2), num(p.throughput_rps, 1), ms(p.p99_ms), num(p.error_pct, 2) + "%", k.knee && k.knee.load === p.load ? { text: "knee", cls: "fail" } : ""];
    })));
  }

  function benchSection(r) {
    var b = r.bench;
    if (!b) return;
    var sec = section("Benchmark: per endpoint and concurrency");
    if (b.concurrency.length > 1) {
      var g = put(sec, el("div", "grid"));
      ["p99", "rps"].forEach(function (what) {
        var series = [{ label: "concurrency" }];
        var rows = [b.concurrency];
        b.endpoints.forEach(function (ep, i) {
          series.push(line(ep, COLORS[i % COLORS.length], { points: { show: true, size: 6 } }));
          rows.push(b.concurrency.map(function (c) {
            var row = b.rows.filter(function (x) { return x.endpoint === ep && x.concurrency === c; })[0];
            return row ? (what === "p99" ? row.latency_ms.p99 : row.rps) : null;
          }));
        });
        chart(g, what === "p99" ? "p99 latency against concurrency" : "Throughput against concurrency", null, {
          scales: { x: { time: false } }, axes: [{ label: "concurrency" }, { label: what === "p99" ? "p99 (ms)" : "req/s", size: 60 }], series: series
        }, rows);
      });
    }
    add(sec, table(["<endpoint", "<method", "c", "requests", "err%", "req/s", "p50", "p95", "p99", "p99.9", "max", "<vs baseline"], b.rows.map(function (x) {
      var l = x.latency_ms;
      var verdict = x.change ? { text: x.change + (x.reason ? ": " + x.reason : ""), cls: x.change === "regression" ? "fail wrap" : "wrap" } : "no baseline";
      return [x.endpoint, x.method, x.concurrency, num(x.requests, 0), num(x.error_pct, 2) + "%", num(x.rps, 1), ms(l.p50), ms(l.p95), ms(l.p99), ms(l.p999), ms(l.max), verdict];
    })));
  }

  function notes(r) {
    if (!r.notes.length) return;
    var ul = put(root, el("ul", "note"));
    r.notes.forEach(function (n) { add(ul, el("li", null, n)); });
  }

  function runPage(r) {
    header(r);
    verdictBox(root, r.verdict);
    kpis(root, r);
    thresholds(root, r);
    notes(r);
    stressSection(r);
    kneeSection(r);
    benchSection(r);
    overTime(r);
    distribution(r);
    stepTables(r);
    errors(r);
  }

  function comparePage(d) {
    var base = d.runs[0], cur = d.runs[1], c = d.compare, g = c.gate;
    add(root, el("h1", null, "Comparison: " + cur.id + " against " + base.id));
    add(root, el("p", "meta", "baseline " + base.id + " (" + base.plan + ", " + base.status + ") · new " + cur.id + " (" + cur.plan + ", " + cur.status + ")"));
    var details = (g.regressions || []).slice();
    details.unshift("bootstrap on the stored histograms of every step: p50, p95 and p99, tolerance " + num(100 * g.tolerance, 0) +
      "%, confidence " + num(100 * g.confidence, 0) + "%");
    verdictBox(root, { ok: !g.regression, word: g.regression ? "GATE FAILED" : "GATE PASSED",
      line: g.regression ? ": a step is significantly slower than the baseline" : ": no step is significantly slower than the baseline", details: details });
    var b = put(root, el("div", "grid"));
    [base, cur].forEach(function (r, i) {
      var box = put(b, el("div"));
      add(box, el("h3", null, (i ? "new " : "baseline ") + r.id));
      verdictBox(box, r.verdict);
      kpis(box, r);
    });

    var sec = section("Per step: deltas (latency in ms, new against baseline)");
    add(sec, table(["<step", "req base", "req new", "p50 base", "p50 new", "Δp50", "p95 base", "p95 new", "Δp95", "p99 base", "p99 new", "Δp99", "Δerr"],
      c.steps.map(function (s) {
        var a = s.delta.a || {}, n = s.delta.b || {}, both = s.delta.a && s.delta.b;
        return [s.name, num(a.requests, 0), num(n.requests, 0), ms(a.p50_ms), ms(n.p50_ms), both ? signed(s.delta.delta_p50_pct, 1, "%") : "–",
          ms(a.p95_ms), ms(n.p95_ms), both ? signed(s.delta.delta_p95_pct, 1, "%") : "–", ms(a.p99_ms), ms(n.p99_ms), both ? signed(s.delta.delta_p99_pct, 1, "%") : "–",
          both ? signed(100 * s.delta.delta_error_rate, 2, " pt") : "–"];
      })));
    var gs = section("Regression gate: per step and quantile");
    var gateRows = [];
    g.steps.forEach(function (s) {
      var name = s.scenario + "/" + s.step;
      if (!s.verdict) { gateRows.push([name, "", "", "", "", "", { text: "not tested: not in the " + s.missing + " run", cls: "muted" }]); return; }
      s.verdict.quantiles.forEach(function (q) {
        var tested = q.change !== "not_tested";
        gateRows.push([name, q.name, ms(q.base_ns / 1e6), ms(q.cur_ns / 1e6), tested ? "x" + num(q.ratio, 3) : "–",
          tested ? "[" + num(q.lo, 3) + ", " + num(q.hi, 3) + "]" : "–",
          { text: tested ? q.change : "not tested: too few samples", cls: q.change === "regression" ? "fail" : q.change === "improvement" ? "pass" : "muted" }]);
      });
    });
    add(gs, table(["<step", "<quantile", "base ms", "new ms", "ratio", "interval", "<verdict"], gateRows));

    var curves = put(section("Percentile curves, baseline against new"), el("div", "grid"));
    c.steps.forEach(function (s) {
      var list = [], styles = [];
      if (s.base) { list.push(Object.assign({}, s.base, { name: "baseline" })); styles.push({ stroke: COLORS[0] }); }
      if (s.new) { list.push(Object.assign({}, s.new, { name: "new" })); styles.push({ stroke: COLORS[1] }); }
      curveChart(curves, s.name, null, list, styles);
    });

    if (base.series && cur.series) {
      var ot = put(section("Over time, baseline against new"), el("div", "grid"));
      [["p99", "p99 latency (ms)"], ["rps", "throughput (req/s)"]].forEach(function (m) {
        var rows = uPlot.join([[base.series.t, base.series[m[0]]], [cur.series.t, cur.series[m[0]]]]);
        chart(ot, m[1], "seconds since each run's start", {
          scales: { x: { time: false } }, axes: timeAxes(m[0] === "p99" ? "ms" : "req/s"),
          series: [{ label: "time", value: function (u, v) { return dur(v); } }, line("baseline", COLORS[0]), line("new", COLORS[1])]
        }, rows);
      });
    }
    [base, cur].forEach(function (r, i) {
      if (!r.steps.length) return;
      var s = section((i ? "New " : "Baseline ") + r.id + ": per step");
      add(s, table(["<step", "requests", "errors", "p50", "p90", "p95", "p99", "p99.9", "max"], r.steps.map(function (x) {
        var l = x.latency_ms;
        return [x.name, num(x.requests, 0), num(x.errors, 0), ms(l.p50), ms(l.p90), ms(l.p95), ms(l.p99), ms(l.p999), ms(l.max)];
      })));
    });
  }

  function footer() {
    add(root, el("footer", null, "Generated by loadgen from the run store. Self-contained: it loads nothing from the network. Charts: uPlot (MIT)."));
  }

  function resize() {
    charts.forEach(function (c) {
      var w = width(c.box);
      if (Math.abs(w - c.u.width) > 2) c.u.setSize({ width: w, height: c.u.height });
    });
  }

  try {
    root.textContent = "";
    document.title = data.title;
    if (data.kind === "compare") comparePage(data); else runPage(data.runs[0]);
    footer();
    window.addEventListener("resize", resize);
    document.body.setAttribute("data-charts", String(charts.length));
  } catch (e) {
    add(root, el("p", "fail", "The report could not be drawn: " + e));
    console.error(e);
  }
})();
