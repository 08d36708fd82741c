import HTTPTypes
import NIOCore

/// `/admin/`: one self-contained page (inline CSS and script, nothing fetched but
/// `/admin/status.json`) that polls the status every second and shows, per route, req/s, p50/p99
/// and the 5xx/4xx shares; per call its outcome mix, p50/p99 and failure shares; per service its
/// breaker and instances; the cache's hit rate, 429s, and the spec generation and last reload.
///
/// The server keeps no per-viewer state: the page keeps the last two minutes of answers and reads
/// each figure over a window (5 s by default, `?window=1` ... `60`) from the difference of two of
/// them; with a single answer so far it shows the counts since start. Calls whose failures (error,
/// timeout, circuit open) pass 1% are amber and 10% red, and listed at the top with the route they
/// degrade. Rows carry their figures as `data-*` attributes (`data-route`, `data-call`,
/// `data-timeout-share`, `data-failure-share`, `data-health`...) for scripts and tests.
enum AdminPage {
    /// Scripts and styles are inline and only same-origin fetches are allowed; nothing else loads.
    static let headers: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .cacheControl: "no-store",
        .contentSecurityPolicy:
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
    ]

    static let body = ByteBuffer(string: html)

    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" href="data:,">
        <title>BFF admin</title>
        <style>
        :root { --ok:#2f9e55; --warn:#d99a00; --bad:#d33f3f; --timeout:#ef7d1a; --open:#8a3fb5; --skipped:#a4acb6; --cancelled:#d3d8de;
                --bg:#f5f6f8; --panel:#fff; --fg:#1c2127; --muted:#69727d; --line:#e1e4e8; --warnbg:#fff5d6; --badbg:#fde3e3; }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--bg); color: var(--fg); font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
        header { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: baseline; padding: 10px 16px; background: #1f2933; color: #f2f4f7; }
        header h1 { font-size: 16px; margin: 0; }
        header .meta { color: #b8c2cc; }
        header .meta b { color: #f2f4f7; font-weight: 600; }
        main { padding: 12px 16px 24px; display: grid; gap: 14px; }
        section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; overflow: auto; }
        section h2 { font-size: 13px; margin: 0; padding: 7px 10px; border-bottom: 1px solid var(--line); background: #fafbfc; }
        .tiles { display: flex; flex-wrap: wrap; gap: 10px; }
        .tile { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; }
        .tile .label { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .04em; }
        .tile .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .tile .sub { color: var(--muted); font-size: 11px; }
        .tile[data-health=warn] { background: var(--warnbg); } .tile[data-health=bad] { background: var(--badbg); }
        table { border-collapse: collapse; width: 100%; }
        th, td { padding: 3px 9px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
        th { font-weight: 600; color: var(--muted); font-size: 11px; background: #fafbfc; }
        th:first-child, td:first-child, td.left, th.left { text-align: left; }
        tr.route td { font-weight: 600; border-top: 2px solid var(--line); }
        tr.route.idle td { color: var(--muted); font-weight: 400; }
        tr.call td:first-child { padding-left: 26px; }
        tr.call td.service { color: var(--muted); }
        tr[data-health=warn] > td { background: var(--warnbg); }
        tr[data-health=bad] > td { background: var(--badbg); }
        td.hot { color: var(--bad); font-weight: 700; }
        td.warm { color: #a66f00; font-weight: 600; }
        .bar { display: flex; width: 170px; height: 11px; border-radius: 2px; overflow: hidden; background: #eef0f3; }
        .bar span { height: 100%; }
        .ok { background: var(--ok); } .error { background: var(--bad); } .timeout { background: var(--timeout); }
        .circuit_open { background: var(--open); } .skipped { background: var(--skipped); } .cancelled { background: var(--cancelled); }
        .legend { display: flex; flex-wrap: wrap; gap: 12px; padding: 6px 10px; color: var(--muted); font-size: 11px; }
        .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
        .chip { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 11px; font-weight: 600; color: #fff; background: var(--ok); }
        .chip.warn { background: var(--warn); } .chip.bad { background: var(--bad); } .chip.muted { background: var(--skipped); }
        .instances span { margin-right: 8px; }
        .attention { border-color: var(--bad); }
        .attention ul { margin: 0; padding: 6px 10px 6px 28px; }
        .attention li[data-health=bad] { color: var(--bad); } .attention li[data-health=warn] { color: #8a5c00; }
        .errors { margin: 0; padding: 6px 10px 8px 28px; color: var(--bad); }
        .muted { color: var(--muted); }
        .trend { color: var(--bad); font-weight: 700; }
        svg.spark { width: 80px; height: 16px; vertical-align: middle; }
        svg.spark polyline { fill: none; stroke-width: 1.4; }
        #connection[data-state=down] { color: #ffb4b4; font-weight: 700; }
        select { font: inherit; }
        </style>
        </head>
        <body data-polls="0">
        <header>
          <h1 id="title">BFF admin</h1>
          <span class="meta">generation <b id="generation">–</b></span>
          <span class="meta">spec <b id="spec">–</b></span>
          <span class="meta">loaded <b id="loaded">–</b></span>
          <span class="meta">last reload <b id="reload">none</b></span>
          <span class="meta">window <select id="window"></select></span>
          <span class="meta" id="connection" data-state="connecting">connecting…</span>
        </header>
        <main>
          <div class="tiles" id="tiles"></div>
          <section class="attention" id="attention" hidden><h2>Degrading now</h2><ul id="attention-list"></ul></section>
          <section id="reload-errors" hidden><h2>Last reload refused</h2><ul class="errors" id="reload-error-list"></ul></section>
          <section>
            <h2>Routes and their calls</h2>
            <div class="legend" id="legend"></div>
            <table>
              <thead><tr>
                <th class="left">route / call</th><th class="left">service</th><th>req/s</th><th>p50</th><th>p99</th>
                <th>5xx</th><th>4xx</th><th>429/s</th><th class="left">outcomes</th><th>timeout</th><th>failed</th><th class="left">failed, last 2 min</th>
              </tr></thead>
              <tbody id="routes"></tbody>
            </table>
          </section>
          <section>
            <h2>Services</h2>
            <table>
              <thead><tr>
                <th class="left">service</th><th class="left">breaker</th><th>window calls</th><th>window failures</th><th>openings</th>
                <th class="left">instances</th><th class="left">used by</th>
              </tr></thead>
              <tbody id="services"></tbody>
            </table>
          </section>
        </main>
        <script>
        "use strict";
        const POLL_MS = 1000, KEEP = 121, WINDOWS = [1, 5, 10, 30, 60];
        const OUTCOMES = ["ok", "error", "timeout", "circuit_open", "skipped", "cancelled"];
        const FAILED = ["error", "timeout", "circuit_open"];
        const WARN_SHARE = 0.01, BAD_SHARE = 0.10;
        const requested = Number(new URLSearchParams(location.search).get("window"));
        let windowSeconds = WINDOWS.includes(requested) ? requested : 5;
        const snapshots = [];
        let polls = 0;

        // MARK: - Small helpers

        function h(tag, attributes, ...children) {
          const element = document.createElement(tag);
          for (const [name, value] of Object.entries(attributes || {})) {
            if (value === undefined || value === null || value === false) continue;
            if (name === "class") element.className = value; else element.setAttribute(name, String(value));
          }
          for (const child of children.flat()) {
            if (child === undefined || child === null) continue;
            element.append(child instanceof Node ? child : document.createTextNode(String(child)));
          }
          return element;
        }
        const sum = values => values.reduce((a, b) => a + b, 0);
        const share = (part, whole) => whole > 0 ? part / whole : null;
        const percent = value => value === null ? "–" : value === 0 ? "0%" : value < 0.001 ? "<0.1%" : (value * 100).toFixed(value < 0.1 ? 1 : 0) + "%";
        const rate = value => value === null ? "–" : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
        function ms(value) {
          if (value === null) return "–";
          if (value >= 1000) return (value / 1000).toFixed(2) + " s";
          return (value >= 10 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(2)) + " ms";
        }
        function ago(iso) {
          const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
          const text = seconds < 90 ? seconds.toFixed(0) + " s" : seconds < 5400 ? (seconds / 60).toFixed(0) + " min" : (seconds / 3600).toFixed(1) + " h";
          return new Date(iso).toLocaleTimeString() + " (" + text + " ago)";
        }
        const fixed = value => value === null ? "" : value.toFixed(4);

        // MARK: - Counts over a window

        // The routes and calls of one answer by name, made once per answer.
        function indexOf(snapshot) {
          if (!snapshot.index) {
            snapshot.index = new Map();
            for (const route of snapshot.routes) {
              snapshot.index.set(route.route, route);
              for (const call of route.calls) snapshot.index.set(route.route + "\u0000" + call.call, call);
            }
          }
          return snapshot.index;
        }
        const minus = (now, before) => before === undefined || before > now ? now : now - before;
        const minusArray = (now, before) => now.map((count, i) => minus(count, before ? before[i] : undefined));

        // The quantile q of a histogram of counts in the page's buckets, interpolated within its bucket.
        function quantile(counts, bounds, q) {
          const total = sum(counts);
          if (total === 0) return null;
          const rank = q * total;
          let seen = 0;
          for (let i = 0; i < counts.length; i++) {
            if (counts[i] > 0 && seen + counts[i] >= rank) {
              const lower = i === 0 ? 0 : bounds[Math.min(i - 1, bounds.length - 1)];
              const upper = i < bounds.length ? bounds[i] : lower;
              return lower + (upper - lower) * ((rank - seen) / counts[i]);
            }
            seen += counts[i];
          }
          return bounds[bounds.length - 1];
        }

        // One call's figures between two answers (before undefined: since start).
        function callFigures(now, before, bounds, seconds) {
          const outcomes = {};
          for (const name of OUTCOMES) outcomes[name] = minus(now.outcomes[name] || 0, before ? before.outcomes[name] : undefined);
          const total = sum(Object.values(outcomes));
          const latency = minusArray(now.latency, before && before.latency);
          return {
            outcomes, total,
            rate: seconds ? total / seconds : null,
            timeoutShare: share(outcomes.timeout, total),
            errorShare: share(outcomes.error + outcomes.circuit_open, total),
            failureShare: share(sum(FAILED.map(name => outcomes[name])), total),
            p50: quantile(latency, bounds, 0.5),
            p99: quantile(latency, bounds, 0.99),
          };
        }

        function routeFigures(now, before, bounds, seconds) {
          const requests = minus(now.requests, before && before.requests);
          const status = {};
          for (const name of ["2xx", "3xx", "4xx", "5xx", "other"]) status[name] = minus(now.status[name], before && before.status[name]);
          const limited = minus(now.rate_limited, before && before.rate_limited);
          const latency = minusArray(now.latency, before && before.latency);
          return {
            requests,
            rate: seconds ? requests / seconds : null,
            serverErrorShare: share(status["5xx"], requests),
            clientErrorShare: share(status["4xx"], requests),
            limitedRate: seconds ? limited / seconds : null,
            limited,
            p50: quantile(latency, bounds, 0.5),
            p99: quantile(latency, bounds, 0.99),
          };
        }

        // The newest answer at least `seconds` older than snapshots[from], if one is kept.
        function olderBy(from, seconds) {
          for (let i = from - 1; i >= 0; i--) {
            if (snapshots[from].monotonic_ms - snapshots[i].monotonic_ms >= seconds * 1000 - POLL_MS / 4) return i;
          }
          return -1;
        }

        // A call's failure share between each pair of consecutive answers, for its sparkline.
        function failureHistory(routeName, callName) {
          const key = routeName + "\u0000" + callName, points = [];
          for (let i = 1; i < snapshots.length; i++) {
            const now = indexOf(snapshots[i]).get(key), before = indexOf(snapshots[i - 1]).get(key);
            if (!now) { points.push(null); continue; }
            points.push(callFigures(now, before, snapshots[i].latency_bounds_ms, 1).failureShare);
          }
          return points;
        }

        function sparkline(points, health) {
          const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
          svg.setAttribute("class", "spark");
          svg.setAttribute("viewBox", "0 0 120 16");
          svg.setAttribute("preserveAspectRatio", "none");
          const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
          const start = 120 - points.length;
          line.setAttribute("points", points.map((p, i) => (start + i) + "," + (15 - 14 * (p || 0)).toFixed(1)).join(" "));
          line.setAttribute("stroke", health === "bad" ? "#d33f3f" : health === "warn" ? "#d99a00" : "#2f9e55");
          svg.append(line);
          return svg;
        }

        function stackedBar(outcomes, total) {
          const bar = h("div", { class: "bar", title: OUTCOMES.map(name => name + " " + outcomes[name]).join(", ") });
          if (total > 0) {
            for (const name of OUTCOMES) {
              if (outcomes[name] > 0) bar.append(h("span", { class: name, style: "width:" + (100 * outcomes[name] / total).toFixed(2) + "%" }));
            }
          }
          return bar;
        }

        // MARK: - Health

        function callHealth(figures, timeoutMs) {
          if (figures.failureShare !== null && figures.failureShare >= BAD_SHARE) return "bad";
          if (figures.failureShare !== null && figures.failureShare >= WARN_SHARE) return "warn";
          if (timeoutMs && figures.p99 !== null && figures.p99 >= 0.8 * timeoutMs) return "warn";
          return "ok";
        }
        function routeHealth(figures, calls) {
          if (figures.serverErrorShare !== null && figures.serverErrorShare >= 0.05) return "bad";
          if (figures.serverErrorShare !== null && figures.serverErrorShare >= WARN_SHARE) return "warn";
          return calls.some(call => call.health !== "ok") ? "warn" : "ok";
        }
        const shareClass = (value, warn, bad) => value === null ? undefined : value >= bad ? "hot" : value >= warn ? "warm" : undefined;

        // MARK: - Rendering

        function render() {
          const newest = snapshots.length - 1, now = snapshots[newest];
          // The window ends now and starts windowSeconds back (or at the oldest answer kept); the one
          // before it, of the same length, tells whether failures are rising.
          let start = olderBy(newest, windowSeconds);
          if (start < 0 && newest > 0) start = 0;
          const before = start >= 0 ? snapshots[start] : undefined;
          const earlierStart = start >= 0 ? olderBy(start, windowSeconds) : -1;
          const previous = earlierStart >= 0 ? snapshots[earlierStart] : undefined;
          const seconds = before ? (now.monotonic_ms - before.monotonic_ms) / 1000 : null;
          const bounds = now.latency_bounds_ms;
          const beforeIndex = before ? indexOf(before) : new Map(), previousIndex = previous ? indexOf(previous) : new Map();
          document.body.dataset.polls = String(polls);
          document.body.dataset.generation = String(now.generation);
          document.body.dataset.window = seconds === null ? "since-start" : seconds.toFixed(1);

          document.title = now.bff + "-bff admin";
          document.getElementById("title").textContent = now.bff + "-bff";
          document.getElementById("generation").textContent = now.generation;
          document.getElementById("spec").textContent = now.spec.file;
          document.getElementById("loaded").textContent = ago(now.spec.loaded_at);
          renderReload(now.last_reload);

          const attention = [], usedBy = new Map(), rows = [];
          let requests = 0, serverErrors = 0, limited = 0;
          for (const route of now.routes) {
            const figures = routeFigures(route, beforeIndex.get(route.route), bounds, seconds);
            const calls = route.calls.map(call => {
              const key = route.route + "\u0000" + call.call;
              const figures = callFigures(call, beforeIndex.get(key), bounds, seconds);
              const earlier = previous && beforeIndex.has(key) ? callFigures(beforeIndex.get(key), previousIndex.get(key), bounds, 1) : null;
              const rising = earlier && earlier.failureShare !== null && figures.failureShare !== null && figures.failureShare > earlier.failureShare + 0.05;
              return { call, figures, rising, health: callHealth(figures, call.timeout_ms) };
            });
            const health = routeHealth(figures, calls);
            requests += figures.requests;
            serverErrors += Math.round((figures.serverErrorShare || 0) * figures.requests);
            limited += figures.limited;
            rows.push(routeRow(route, figures, health));
            for (const entry of calls) {
              rows.push(callRow(route, entry));
              if (entry.call.service) {
                if (!usedBy.has(entry.call.service)) usedBy.set(entry.call.service, []);
                usedBy.get(entry.call.service).push({ route: route.route, call: entry.call.call, health: entry.health });
              }
              if (entry.health !== "ok") attention.push({ route, entry });
            }
            if (route.service) {
              if (!usedBy.has(route.service)) usedBy.set(route.service, []);
              usedBy.get(route.service).push({ route: route.route, call: "proxy", health });
            }
          }
          document.getElementById("routes").replaceChildren(...rows);
          renderServices(now.services, usedBy, attention);
          renderAttention(attention);
          renderTiles(now, before, seconds, requests, serverErrors, limited);
        }

        function routeRow(route, f, health) {
          const idle = route.requests === 0;
          return h("tr", {
              class: "route" + (idle ? " idle" : ""), "data-route": route.route, "data-kind": route.kind, "data-health": health,
              "data-requests": f.requests, "data-rate": fixed(f.rate), "data-5xx-share": fixed(f.serverErrorShare),
              "data-4xx-share": fixed(f.clientErrorShare), "data-rate-limited": f.limited,
            },
            h("td", {}, (route.methods.length ? route.methods.join(",") + " " : "") + route.route),
            h("td", { class: "left service" }, route.service || (route.kind === "other" ? "not in the spec" : "")),
            h("td", {}, rate(f.rate)), h("td", {}, ms(f.p50)), h("td", {}, ms(f.p99)),
            h("td", { class: shareClass(f.serverErrorShare, WARN_SHARE, 0.05) }, percent(f.serverErrorShare)),
            h("td", {}, percent(f.clientErrorShare)),
            h("td", { class: f.limited > 0 ? "warm" : undefined }, rate(f.limitedRate)),
            h("td", { colspan: 4 }));
        }

        function callRow(route, { call, figures: f, rising, health }) {
          return h("tr", {
              class: "call", "data-route": route.route, "data-call": call.call, "data-service": call.service, "data-health": health,
              "data-requests": f.total, "data-rate": fixed(f.rate), "data-timeout-share": fixed(f.timeoutShare),
              "data-error-share": fixed(f.errorShare), "data-failure-share": fixed(f.failureShare),
              "data-p50": fixed(f.p50), "data-p99": fixed(f.p99), "data-rising": rising ? "true" : "false",
            },
            h("td", {}, call.call, call.required ? h("span", { class: "muted" }, " (required)") : null, rising ? h("span", { class: "trend", title: "failures rising" }, " ↑") : null),
            h("td", { class: "left service" }, call.service || ""),
            h("td", {}, rate(f.rate)), h("td", {}, ms(f.p50)),
            h("td", { class: call.timeout_ms && f.p99 !== null && f.p99 >= 0.8 * call.timeout_ms ? "warm" : undefined, title: call.timeout_ms ? "timeout " + ms(call.timeout_ms) : undefined }, ms(f.p99)),
            h("td", {}), h("td", {}), h("td", {}),
            h("td", { class: "left" }, stackedBar(f.outcomes, f.total)),
            h("td", { class: shareClass(f.timeoutShare, WARN_SHARE, BAD_SHARE) }, percent(f.timeoutShare)),
            h("td", { class: shareClass(f.failureShare, WARN_SHARE, BAD_SHARE) }, percent(f.failureShare)),
            h("td", { class: "left" }, sparkline(failureHistory(route.route, call.call), health)));
        }

        function renderServices(services, usedBy, attention) {
          const rows = services.map(service => {
            const breaker = service.breaker ? service.breaker.state : null;
            const healthy = service.instances.filter(instance => instance.healthy && !instance.ejected).length;
            const health = breaker === "open" || healthy === 0 ? "bad" : breaker === "half_open" || healthy < service.instances.length ? "warn" : "ok";
            if (health !== "ok") attention.push({ service, breaker, healthy, health });
            const users = usedBy.get(service.name) || [];
            return h("tr", { "data-service": service.name, "data-breaker": breaker || "none", "data-health": health, "data-healthy-instances": healthy },
              h("td", {}, service.name),
              h("td", { class: "left" }, breaker ? h("span", { class: "chip " + (breaker === "open" ? "bad" : breaker === "half_open" ? "warn" : "") }, breaker) : h("span", { class: "muted" }, "no breaker")),
              h("td", {}, service.breaker ? service.breaker.window_requests : "–"),
              h("td", {}, service.breaker ? service.breaker.window_failures : "–"),
              h("td", {}, service.breaker ? service.breaker.openings : "–"),
              h("td", { class: "left instances" }, service.instances.map(instance => h("span", { "data-url": instance.url, "data-healthy": instance.healthy, "data-ejected": instance.ejected },
                h("span", { class: "chip " + (!instance.healthy ? "bad" : instance.ejected ? "warn" : "") }, !instance.healthy ? "unhealthy" : instance.ejected ? "ejected" : "healthy"),
                " " + instance.url + (instance.outstanding ? " · " + instance.outstanding + " in flight" : "") + (instance.ejections ? " · " + instance.ejections + " ejections" : "")))),
              h("td", { class: "left" }, users.map((user, i) => h("span", { class: user.health === "ok" ? "muted" : user.health === "bad" ? "trend" : "" }, (i ? ", " : "") + user.route + " · " + user.call))));
          });
          document.getElementById("services").replaceChildren(...rows);
        }

        function renderAttention(attention) {
          const rank = item => (item.health === "bad" ? 2 : 1) + (item.entry ? item.entry.figures.failureShare || 0 : 1);
          const items = attention.sort((a, b) => rank(b) - rank(a)).map(item => {
            if (item.service) {
              const what = item.breaker === "open" ? "circuit breaker open" : item.breaker === "half_open" ? "circuit breaker half open" : "";
              const instances = item.healthy < item.service.instances.length ? item.healthy + " of " + item.service.instances.length + " instances serving" : "";
              return h("li", { "data-health": item.health, "data-service": item.service.name }, "service " + item.service.name + ": " + [what, instances].filter(Boolean).join(", "));
            }
            const { route, entry } = item, f = entry.figures;
            const parts = FAILED.filter(name => f.outcomes[name] > 0).map(name => percent(f.outcomes[name] / f.total) + " " + name.replace("_", " "));
            if (f.p99 !== null) parts.push("p99 " + ms(f.p99) + (entry.call.timeout_ms ? " of " + ms(entry.call.timeout_ms) : ""));
            return h("li", { "data-health": item.health, "data-route": route.route, "data-call": entry.call.call },
              (entry.call.service || "?") + " is degrading " + route.methods.join(",") + " " + route.route + " (call " + entry.call.call + (entry.call.required ? ", required" : ", optional") + "): " + parts.join(", ") + (entry.rising ? " ↑" : ""));
          });
          document.getElementById("attention-list").replaceChildren(...items);
          document.getElementById("attention").hidden = items.length === 0;
        }

        function renderReload(reload) {
          const target = document.getElementById("reload");
          const errors = document.getElementById("reload-error-list");
          if (!reload) {
            target.textContent = "none";
            errors.replaceChildren();
            document.getElementById("reload-errors").hidden = true;
            return;
          }
          const chip = h("span", { class: "chip " + (reload.result === "applied" ? "" : "bad") }, reload.result);
          target.replaceChildren(chip, " " + ago(reload.at) + " by " + reload.reason + (reload.message ? ": " + reload.message : ""));
          target.dataset.result = reload.result;
          const list = (reload.errors || []).map(error => h("li", {}, error.file + ":" + error.line + (error.column ? ":" + error.column : "") + ": " + error.message + (error.hint ? " (" + error.hint + ")" : "")));
          errors.replaceChildren(...list);
          document.getElementById("reload-errors").hidden = reload.result === "applied" || list.length === 0;
        }

        function tile(label, value, sub, health, id) {
          return h("div", { class: "tile", "data-health": health, id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), h("div", { class: "sub" }, sub));
        }

        function renderTiles(now, before, seconds, requests, serverErrors, limited) {
          const cache = {};
          for (const name of ["hit", "miss", "coalesced", "stale"]) cache[name] = minus(now.cache[name], before && before.cache[name]);
          const lookups = sum(Object.values(cache));
          const hitShare = share(cache.hit, lookups);
          const serverShare = share(serverErrors, requests);
          const windowText = seconds === null ? "since start" : "last " + seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
          document.getElementById("tiles").replaceChildren(
            tile("requests / s", rate(seconds ? requests / seconds : null), windowText + " · " + requests + " requests", "ok", "tile-requests"),
            tile("5xx share", percent(serverShare), serverErrors + " answers", serverShare >= 0.05 ? "bad" : serverShare >= WARN_SHARE ? "warn" : "ok", "tile-5xx"),
            tile("rate limited (429) / s", rate(seconds ? limited / seconds : null), limited + " in window · " + now.rate_limited + " since start", limited > 0 ? "warn" : "ok", "tile-429"),
            tile("cache hit rate", now.cache.enabled ? percent(hitShare) : "off",
              now.cache.enabled ? cache.hit + " hit · " + cache.miss + " miss · " + cache.coalesced + " coalesced · " + cache.stale + " stale" : "no cache: in this spec", "ok", "tile-cache"));
          const tileCache = document.getElementById("tile-cache");
          tileCache.dataset.hitShare = fixed(hitShare);
          tileCache.dataset.hits = String(now.cache.hit);
          tileCache.dataset.misses = String(now.cache.miss);
        }

        // MARK: - Polling

        function connection(up, problem) {
          const element = document.getElementById("connection");
          element.dataset.state = up ? "up" : "down";
          element.textContent = up ? "updated " + new Date().toLocaleTimeString() : "no answer from the admin listener (" + problem + "); showing the last figures";
        }

        async function poll() {
          const controller = new AbortController();
          const timer = setTimeout(() => controller.abort(), 2500);
          try {
            const response = await fetch("/admin/status.json", { cache: "no-store", signal: controller.signal });
            if (!response.ok) throw new Error("HTTP " + response.status);
            const status = await response.json();
            const last = snapshots[snapshots.length - 1];
            // Fewer requests than before: a restarted server, whose counts start again.
            if (last && sum(status.routes.map(r => r.requests)) < sum(last.routes.map(r => r.requests))) snapshots.length = 0;
            snapshots.push(status);
            if (snapshots.length > KEEP) snapshots.shift();
            polls += 1;
            connection(true);
            render();
          } catch (error) {
            connection(false, error && error.name === "AbortError" ? "timed out" : error);
          } finally {
            clearTimeout(timer);
            setTimeout(poll, POLL_MS);
          }
        }

        const select = document.getElementById("window");
        for (const seconds of WINDOWS) select.append(h("option", { value: seconds, selected: seconds === windowSeconds }, seconds + " s"));
        select.addEventListener("change", () => {
          windowSeconds = Number(select.value);
          const url = new URL(location.href);
          url.searchParams.set("window", String(windowSeconds));
          history.replaceState(null, "", url);
          if (snapshots.length) render();
        });
        const legend = document.getElementById("legend");
        for (const name of OUTCOMES) legend.append(h("span", {}, h("i", { class: name }), name.replace("_", " ")));
        legend.append(h("span", {}, "rows turn amber at " + percent(WARN_SHARE) + " failed calls (or p99 at 80% of the timeout), red at " + percent(BAD_SHARE) + "; ↑ marks a failure share rising"));
        poll();
        </script>
        </body>
        </html>
        """#
}
