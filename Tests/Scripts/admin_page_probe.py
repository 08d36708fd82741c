#!/usr/bin/env python3
"""Watches a BFF's admin page (/admin/) in headless Chromium while a service degrades.

Loads the page, waits until the row of one call has counted requests over at least three polls
(the baseline), POSTs the --trigger URL (e.g. a demo service's /_demo/mode?state=slow), then reads
the row's data-* attributes from the DOM every 250 ms until its timeout share reaches --until or the
deadline passes, takes a screenshot, and prints one JSON object: the baseline row, the row at the
highest timeout share, the degradation list, the number of polls and the screenshot's path.

Uses the Chrome DevTools Protocol over the websockets package. Exits 2 when Chromium or websockets
is missing, 1 when the page never showed the row.
"""
import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

try:
    import websockets
except ImportError:
    print("websockets is not installed: python3 -m pip install websockets", file=sys.stderr)
    sys.exit(2)


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", required=True, help="the admin page, e.g. http://127.0.0.1:9082/admin/")
    parser.add_argument("--route", required=True, help="the route pattern of the watched call's row")
    parser.add_argument("--call", required=True, help="the call's name")
    parser.add_argument("--service", required=True, help="the call's service, whose row is read too")
    parser.add_argument("--trigger", required=True, help="a URL to POST once the baseline is read")
    parser.add_argument("--until", type=float, default=0.5, help="stop once the timeout share reaches this")
    parser.add_argument("--screenshot", required=True, help="where to write the PNG")
    parser.add_argument("--deadline", type=float, default=35, help="seconds for everything")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    return parser.parse_args()


class DevTools:
    """One page's DevTools session: numbered commands, answers matched by id, events ignored."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0

    async def send(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        await self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression):
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


def reader_script(route, call, service):
    """The expression that reads what the test checks from the page's DOM, as JSON text."""
    selector = f'tr.call[data-route={json.dumps(route)}][data-call={json.dumps(call)}]'
    service_selector = f'#services tr[data-service={json.dumps(service)}]'
    return f"""JSON.stringify({{
      polls: Number(document.body.dataset.polls || 0),
      window: document.body.dataset.window || null,
      row: (row => row ? Object.assign({{}}, row.dataset) : null)(document.querySelector({json.dumps(selector)})),
      service: (row => row ? Object.assign({{}}, row.dataset) : null)(document.querySelector({json.dumps(service_selector)})),
      attention: Array.from(document.querySelectorAll("#attention-list li")).map(li => li.textContent),
      connection: (document.getElementById("connection") || {{}}).textContent || null
    }})"""


def number(row, name):
    value = (row or {}).get(name)
    return float(value) if value not in (None, "") else None


async def watch(options, devtools_url, started):
    with urllib.request.urlopen(devtools_url.replace("ws://", "http://").split("/devtools/")[0] + "/json/list", timeout=5) as answer:
        pages = [target for target in json.load(answer) if target.get("type") == "page"]
    async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024) as socket:
        devtools = DevTools(socket)
        await devtools.send("Page.enable")
        await devtools.send("Emulation.setDeviceMetricsOverride", width=1500, height=1100, deviceScaleFactor=1, mobile=False)
        await devtools.send("Page.navigate", url=options.page)
        reader = reader_script(options.route, options.call, options.service)

        def remaining():
            return options.deadline - (time.monotonic() - started)

        async def read():
            text = await devtools.evaluate(reader)
            return json.loads(text) if text else {"polls": 0, "row": None}

        baseline = None
        while remaining() > 0:
            state = await read()
            if state["polls"] >= 3 and (number(state["row"], "requests") or 0) > 0:
                baseline = state
                break
            await asyncio.sleep(0.25)
        if baseline is None:
            state = await read()
            print(json.dumps({"error": "the page never showed requests on the row", "last": state}))
            return 1

        request = urllib.request.Request(options.trigger, method="POST")
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

        peak, samples, healths = baseline, 0, set()
        while remaining() > 3:
            await asyncio.sleep(0.25)
            state = await read()
            samples += 1
            if state["row"]:
                healths.add(state["row"].get("health"))
            if (number(state["row"], "timeoutShare") or 0) > (number(peak["row"], "timeoutShare") or 0):
                peak = state
            if (number(peak["row"], "timeoutShare") or 0) >= options.until and state["row"].get("health") == "bad":
                break
        final = await read()
        shot = await devtools.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        os.makedirs(os.path.dirname(os.path.abspath(options.screenshot)), exist_ok=True)
        with open(options.screenshot, "wb") as file:
            file.write(base64.b64decode(shot["data"]))
        print(json.dumps({
            "baseline": baseline, "peak": peak, "final": final, "samples": samples,
            "healths": sorted(h for h in healths if h), "screenshot": os.path.abspath(options.screenshot),
        }))
        return 0


def main():
    options = arguments()
    started = time.monotonic()
    if not shutil.which(options.chromium) and not os.path.exists(options.chromium):
        print(f"{options.chromium} is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    profile = tempfile.mkdtemp(prefix="admin-page-chromium-")
    browser = subprocess.Popen(
        [options.chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        devtools_url = None
        while devtools_url is None and time.monotonic() - started < 20:
            line = browser.stderr.readline()
            if not line:
                break
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                devtools_url = found.group(1)
        if devtools_url is None:
            print(json.dumps({"error": "chromium did not open its DevTools port"}))
            return 1
        # Chromium keeps writing to stderr; drain it so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in browser.stderr], daemon=True).start()
        return asyncio.run(asyncio.wait_for(watch(options, devtools_url, started), timeout=max(1, options.deadline - (time.monotonic() - started))))
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=5)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
