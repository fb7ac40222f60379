// The live lab's page: start a run, draw its server-sent events as they come.
// No library: an EventSource for the stream, SVG for the bars and the meter.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const LANE_HEIGHT = 260;
  const AXIS = 18; // px under the bars for the time axis
  const form = document.getElementById("lab-form");
  const runButton = document.getElementById("run");
  const stopButton = document.getElementById("stop");
  const status = document.getElementById("status");
  const lanesBox = document.getElementById("lanes");
  const meter = document.getElementById("meter");
  const meterChart = document.getElementById("meter-chart");
  const summary = document.getElementById("summary");

  let source = null; // the EventSource of the run in progress
  let run = null; // what the run has drawn so far
  let drawPending = false;

  function svg(name, attributes = {}, parent = null) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      element.setAttribute(key, value);
    }
    if (parent) parent.appendChild(element);
    return element;
  }

  function start(params) {
    stop();
    summary.hidden = true;
    lanesBox.replaceChildren();
    meterChart.replaceChildren();
    status.textContent = "Starting…";
    // The address becomes a link that starts this same run.
    history.replaceState(null, "", `?${params}&run=1`);
    const url = `${form.dataset.runUrl}?${params}`;
    source = new EventSource(url);
    const on = (kind, handler) =>
      source.addEventListener(kind, (event) => handler(JSON.parse(event.data)));
    on("run", begin);
    on("lane", (data) => {
      status.textContent = `Running lane “${run.lanes[data.lane].label}”…`;
    });
    on("start", requestStarted);
    on("end", requestEnded);
    on("meter", meterSample);
    on("lane-done", laneDone);
    on("done", finish);
    on("restart", (data) => {
      // The server is stopping: send the same run again, to whichever answers.
      stop();
      status.textContent = "The server is restarting: running again…";
      setTimeout(() => start(params), data.retry_ms);
    });
    source.onerror = () => {
      // Never let EventSource reconnect: that would start another run.
      const started = run !== null;
      stop();
      if (!started) explainRefusal(url);
      else if (!run.done) status.textContent = "The connection to the server was lost.";
    };
    runButton.disabled = true;
    stopButton.disabled = false;
  }

  function stop() {
    if (source) source.close(); // the server sees the hang-up and cancels the run
    source = null;
    runButton.disabled = false;
    stopButton.disabled = true;
  }

  async function explainRefusal(url) {
    // The runner answered JSON instead of a stream: a 400 or a 429 says why.
    try {
      const answer = await fetch(url);
      const body = await answer.json();
      const fields = Object.entries(body.fields || {}).map(
        ([name, field]) => `${name}: ${field.errors.join(" ")} (${field.allowed})`,
      );
      status.textContent = [body.error, ...fields].join(" · ");
    } catch {
      status.textContent = "The lab could not start a run.";
    }
  }

  function begin(data) {
    run = { ...data, lanes: {}, scaleMs: Math.max(1000, data.delay * 1200), done: false };
    for (const { name, label } of data.lanes) {
      const figure = document.createElement("figure");
      figure.className = "lane";
      figure.dataset.lane = name;
      const caption = document.createElement("figcaption");
      caption.textContent = `${label} `;
      const stats = document.createElement("small");
      caption.appendChild(stats);
      const chart = svg("svg", { height: LANE_HEIGHT, role: "img" });
      figure.append(caption, chart);
      lanesBox.appendChild(figure);
      run.lanes[name] = {
        label, chart, stats, now: 0, bars: new Map(), threadsMax: 0,
        bars_group: svg("g", {}, chart), axis: svg("g", { class: "axis" }, chart),
      };
    }
    run.samples = [];
  }

  function requestStarted(data) {
    const lane = run.lanes[data.lane];
    const rect = svg("rect", { class: "req" }, lane.bars_group);
    rect.dataset.lane = data.lane;
    rect.dataset.index = data.index;
    rect.dataset.startMs = data.at_ms;
    rect.dataset.status = "running";
    svg("title", {}, rect).textContent = `#${data.index + 1}: running`;
    lane.bars.set(data.index, { start: data.at_ms, end: null, rect });
    lane.now = Math.max(lane.now, data.at_ms);
    scheduleDraw();
  }

  function requestEnded(data) {
    const lane = run.lanes[data.lane];
    const bar = lane.bars.get(data.index);
    bar.end = data.at_ms;
    bar.rect.dataset.endMs = data.at_ms;
    bar.rect.dataset.status = data.status;
    const took = Math.round(data.at_ms - bar.start);
    const lines = [`#${data.index + 1}: ${data.status} ${data.code ?? data.error} in ${took} ms`];
    if (data.server_timing) lines.push(`Server-Timing: ${data.server_timing}`);
    if (data.view_thread) lines.push(`X-View-Thread: ${data.view_thread}`);
    bar.rect.firstChild.textContent = lines.join("\n");
    lane.now = Math.max(lane.now, data.at_ms);
    scheduleDraw();
  }

  function meterSample(data) {
    meter.dataset.threads = data.threads;
    meter.dataset.inFlight = data.in_flight;
    meter.dataset.lagMs = data.lag_ms;
    document.getElementById("meter-threads").textContent = data.threads;
    document.getElementById("meter-in-flight").textContent = data.in_flight ?? "–";
    document.getElementById("meter-lag").textContent = data.lag_ms;
    const lane = run.lanes[data.lane];
    lane.threadsMax = Math.max(lane.threadsMax, data.threads);
    // Running bars grow with the clock of the lane in progress.
    if (lane.bars.size) lane.now = Math.max(lane.now, data.t);
    run.samples.push(data);
    scheduleDraw();
  }

  function laneDone(data) {
    const lane = run.lanes[data.lane];
    lane.summary = data;
    lane.stats.textContent = `slowest ${seconds(data.slowest_ms)}, wall ${seconds(data.wall_ms)}`;
  }

  function finish(data) {
    run.done = true;
    stop();
    const rows = Object.entries(run.lanes).map(([name, lane]) => {
      const row = document.createElement("tr");
      row.className = "lane-summary";
      row.dataset.lane = name;
      row.dataset.slowestMs = lane.summary.slowest_ms;
      row.dataset.threadsMax = lane.threadsMax;
      const statuses = [...lane.bars.values()].map((bar) => bar.rect.dataset.status);
      const ok = statuses.filter((s) => s === "ok").length;
      const cells = [
        lane.label,
        seconds(lane.summary.slowest_ms),
        seconds(lane.summary.median_ms),
        seconds(lane.summary.wall_ms),
        lane.summary.per_second,
        `${ok} / ${statuses.length - ok}`,
        lane.threadsMax,
      ];
      for (const value of cells) {
        row.appendChild(document.createElement("td")).textContent = value;
      }
      return row;
    });
    summary.querySelector("tbody").replaceChildren(...rows);
    summary.dataset.slowestMs = data.slowest_ms;
    const wall = Object.values(run.lanes).reduce((sum, l) => sum + l.summary.wall_ms, 0);
    document.getElementById("total").textContent =
      `${run.n} requests per lane, delay ${run.delay} s: ${seconds(wall)} of wall time in all, lanes one after another.`;
    const lesson = document.querySelector(`#lessons [data-experiment="${run.experiment}"]`);
    document.getElementById("lesson").innerHTML = lesson ? lesson.innerHTML : "";
    summary.hidden = false;
    status.textContent = "Done.";
    draw();
  }

  function seconds(ms) {
    return `${(ms / 1000).toFixed(2)} s`;
  }

  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      draw();
    });
  }

  function draw() {
    if (!run) return;
    const lanes = Object.values(run.lanes);
    // One time scale for every lane, in whole seconds, so lengths compare.
    const longest = Math.max(run.scaleMs, ...lanes.map((lane) => lane.now));
    run.scaleMs = Math.ceil(longest / 1000) * 1000;
    for (const lane of lanes) drawLane(lane);
    drawMeter();
  }

  function drawLane(lane) {
    const width = lane.chart.clientWidth || 300;
    const rowHeight = (LANE_HEIGHT - AXIS) / Math.max(run.n, 1);
    const x = (ms) => (ms / run.scaleMs) * width;
    for (const [index, bar] of lane.bars) {
      const end = bar.end ?? lane.now;
      bar.rect.setAttribute("x", x(bar.start));
      bar.rect.setAttribute("y", index * rowHeight);
      bar.rect.setAttribute("width", Math.max(x(end) - x(bar.start), 1));
      bar.rect.setAttribute("height", Math.max(rowHeight - (rowHeight > 3 ? 1 : 0), 0.5));
    }
    lane.axis.replaceChildren();
    const step = run.scaleMs > 20000 ? 5000 : run.scaleMs > 8000 ? 2000 : 1000;
    for (let ms = 0; ms <= run.scaleMs; ms += step) {
      const at = Math.min(x(ms), width - 1);
      svg("line", { x1: at, x2: at, y1: 0, y2: LANE_HEIGHT - AXIS }, lane.axis);
      const label = svg("text", { x: at + 2, y: LANE_HEIGHT - 5 }, lane.axis);
      label.textContent = `${ms / 1000} s`;
    }
  }

  function drawMeter() {
    const samples = run.samples;
    if (samples.length < 2) return;
    const width = meterChart.clientWidth || 600;
    const height = 90;
    meterChart.setAttribute("height", height);
    meterChart.replaceChildren();
    for (const [key, cls] of [["threads", "threads"], ["in_flight", "in-flight"], ["lag_ms", "lag"]]) {
      const top = Math.max(...samples.map((s) => s[key]), 1);
      const points = samples.map(
        (s, i) => `${(i / (samples.length - 1)) * width},${height - 4 - (s[key] / top) * (height - 8)}`,
      );
      svg("polyline", { class: `line ${cls}`, points: points.join(" ") }, meterChart);
    }
  }

  function paramsOf(formElement) {
    return new URLSearchParams(new FormData(formElement)).toString();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start(paramsOf(form));
  });
  stopButton.addEventListener("click", () => {
    stop();
    status.textContent = "Stopped: the server cancelled the run's requests.";
  });

  // /lab/?experiment=...&n=...&delay=...&run=1 fills the form and starts.
  const query = new URLSearchParams(location.search);
  for (const name of ["experiment", "n", "delay"]) {
    if (query.has(name)) form.elements[name].value = query.get(name);
  }
  if (query.get("run") === "1") start(paramsOf(form));
})();
