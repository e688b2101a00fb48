"""Drives the mqsim dashboard in headless Chromium (Debian `chromium` + `chromium-driver`)
through Selenium's WebDriver, as a teacher would: open the dashboard, see one master (in
the table and in the topology picture), start the demo load and see its rates, click kill
on the master, see a new master, the kill in the timeline, the failover time and the
failover's sequence diagram naming the new master (with the load's clients reconnecting);
then restart the killed broker, cut the master from ZooKeeper with the lesson bar, see
another failover in both pictures, heal, and stop the load.

Usage: python3 dashboard.py --url http://127.0.0.1:PORT/ --out DIR [--user U --password P]
                            [--console-ports 1,2,3]
Writes screenshots into DIR and prints one JSON line with what it saw. Driven by
tests/browser.rs; exits non-zero (with the page's text) if something is not as expected.
"""
import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def find(*names):
    for n in names:
        p = shutil.which(n) or (n if os.path.exists(n) else None)
        if p:
            return p
    return None


def browser(user_data, size):
    chromium = os.environ.get("CHROMIUM") or find("chromium", "/usr/bin/chromium", "chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or find("chromedriver", "/usr/bin/chromedriver")
    if not chromium or not driver:
        sys.exit("chromium and chromedriver are needed: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
        f"--window-size={size}", f"--user-data-dir={user_data}",
    ]:
        opts.add_argument(flag)
    # An explicit driver path: Selenium must not try to download one.
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


def with_credentials(url, user, password):
    """http://user:password@host:port/...: the browser sends BASIC auth for the whole origin."""
    u = urlsplit(url)
    return f"{u.scheme}://{user}:{password}@{u.netloc}{u.path or '/'}"


def fail(d, why):
    try:
        text = d.find_element(By.TAG_NAME, "body").text
    except Exception as e:  # noqa: BLE001
        text = f"(no page text: {e})"
    sys.exit(f"FAILED: {why}\n--- page text ---\n{text}")


def masters(d):
    return [r.get_attribute("data-node") for r in d.find_elements(By.CSS_SELECTOR, "#brokers tr[data-state=master]")]


def text_of(d, selector):
    return d.find_element(By.CSS_SELECTOR, selector).text


def topology_master(d):
    return d.find_element(By.CSS_SELECTOR, "#topology svg").get_attribute("data-master")


def sequence_master(d):
    svgs = d.find_elements(By.CSS_SELECTOR, "#sequence svg")
    return svgs[0].get_attribute("data-new-master") if svgs else None


def number(d, element_id):
    try:
        return float(d.find_element(By.ID, element_id).text)
    except (ValueError, Exception):  # noqa: BLE001 ("–" before two samples, or not shown)
        return 0.0


def click(d, selector, why):
    for _ in range(40):
        try:
            d.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:  # the live tables were just refreshed
            time.sleep(0.05)
    fail(d, f"could not click {why}")


def rate_in(d):
    try:
        return float(d.find_element(By.ID, "rate-in-now").text)
    except ValueError:  # "–" until two samples exist
        return 0.0


def produce(console_port, auth, stop, name="demo"):
    """A steady trickle through the REST API, so the rate chart has something to draw."""
    req_auth = "Basic " + base64.b64encode(auth.encode()).decode()
    sent = 0
    while not stop.is_set():
        req = urllib.request.Request(
            f"http://127.0.0.1:{console_port}/api/message/{name}?type=queue",
            data=f"tick {sent}".encode(), method="POST",
            headers={"Authorization": req_auth, "Content-Type": "text/plain"})
        try:
            urllib.request.urlopen(req, timeout=2).read()
            sent += 1
        except Exception:  # noqa: BLE001 (the master goes away during the demo)
            pass
        time.sleep(0.05)
    return sent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="admin")
    ap.add_argument("--console-ports", default="")
    ap.add_argument("--timeout", type=float, default=40)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    ports = {f"node{i + 1:02d}": int(p) for i, p in enumerate(a.console_ports.split(",")) if p}
    profile = tempfile.mkdtemp(prefix="mqsim-chromium-")
    d = browser(profile, "1600,1200")
    seen = {}
    stop = threading.Event()
    try:
        d.set_page_load_timeout(30)
        d.get(with_credentials(a.url, a.user, a.password))
        # The dashboard replaces its live tables whenever the status changes (every node's
        # store figures included): a condition that read a row just replaced polls again.
        wait = WebDriverWait(d, a.timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
        # The script has polled /api/status at least once, and one broker is master.
        try:
            wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-updated"))
            wait.until(lambda d: len(masters(d)) == 1)
        except TimeoutException:
            fail(d, "no single master on the dashboard")
        old = masters(d)[0]
        seen["old_master"] = old
        seen["title"] = d.title
        # The topology picture shows the same master, as a master box.
        try:
            wait.until(lambda d: topology_master(d) == old)
        except TimeoutException:
            fail(d, f"the topology picture does not show {old} as master")
        seen["topology_master_before"] = topology_master(d)
        seen["topology_role_before"] = d.find_element(
            By.CSS_SELECTOR, f"#topology g[data-node='{old}']").get_attribute("data-role")

        # The lesson bar's load: a producer and a consumer, with live rates.
        click(d, "#load-start", "start load")
        try:
            wait.until(lambda d: "load started" in text_of(d, "#result"))
            wait.until(lambda d: number(d, "load-send-rate") > 0 and number(d, "load-recv-rate") > 0)
        except TimeoutException:
            fail(d, "the load's send/receive rates never went above 0")
        seen["load_rates"] = [number(d, "load-send-rate"), number(d, "load-recv-rate")]
        # Its connections are on the master in the picture.
        try:
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#topology [data-clients]"))
        except TimeoutException:
            fail(d, "the topology picture shows no client connection")
        seen["topology_clients"] = text_of(d, "#topology svg")

        # Some traffic on the master for the rate chart, for a few seconds.
        producer = None
        if old in ports:
            producer = threading.Thread(target=produce, args=(ports[old], f"{a.user}:{a.password}", stop), daemon=True)
            producer.start()
            try:
                wait.until(lambda d: rate_in(d) > 0)
            except TimeoutException:
                fail(d, "the rate chart never showed traffic")
            time.sleep(2.5)
        d.save_screenshot(os.path.join(a.out, "dashboard-before.png"))

        # Click "kill" on the master's row, as on the projector.
        for attempt in range(20):
            try:
                d.find_element(By.CSS_SELECTOR, f"#brokers tr[data-node='{old}'] button[data-verb=kill]").click()
                break
            except StaleElementReferenceException:  # the live tables were just refreshed
                time.sleep(0.05)
        else:
            fail(d, "could not click the kill button")
        stop.set()
        try:
            wait.until(lambda d: "SIGKILL" in d.find_element(By.ID, "result").text)
        except TimeoutException:
            fail(d, "the kill button did not report SIGKILL")
        seen["result"] = d.find_element(By.ID, "result").text

        # A new master, the kill in the timeline (over server-sent events), the failover time.
        def failed_over(d):
            m = masters(d)
            if len(m) != 1 or m[0] == old:
                return False
            row = d.find_element(By.CSS_SELECTOR, f"#brokers tr[data-node='{old}']")
            if row.get_attribute("data-state") != "down":
                return False
            kills = [li.text for li in d.find_elements(By.CSS_SELECTOR, "#timeline li.k-killed") if old in li.text]
            notes = [s.text for s in d.find_elements(By.CSS_SELECTOR, "#timeline li .failover") if "failover" in s.text]
            return (m[0], kills, notes) if kills and notes else False

        try:
            new, kills, notes = wait.until(failed_over)
        except TimeoutException:
            fail(d, "no new master / kill event / failover time on the dashboard")
        seen.update(new_master=new, killed_event=kills[0], failover=notes[0])
        seen["master_line"] = d.find_element(By.ID, "master-line").text
        # Both pictures follow: the topology's master, and the failover's sequence diagram
        # (fetched after the failover) naming the new master, with the load's clients
        # reconnecting to it.
        try:
            wait.until(lambda d: topology_master(d) == new)
        except TimeoutException:
            fail(d, f"the topology picture did not move the master to {new}")
        seen["topology_master_after"] = topology_master(d)
        try:
            wait.until(lambda d: sequence_master(d) == new)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sequence g[data-kind=client-reconnected]"))
        except TimeoutException:
            fail(d, f"no sequence diagram naming {new} with the clients reconnecting")
        seen["sequence_new_master"] = sequence_master(d)
        seen["sequence_text"] = text_of(d, "#sequence svg")
        time.sleep(1.2)  # one more chart sample
        d.save_screenshot(os.path.join(a.out, "dashboard.png"))
        for element_id, shot in [("topology", "topology.png"), ("sequence", "failover-sequence.png")]:
            el = d.find_element(By.ID, element_id)
            d.execute_script("arguments[0].scrollIntoView({block: 'start'});", el)
            time.sleep(0.3)
            for _ in range(20):
                try:
                    d.find_element(By.ID, element_id).screenshot(os.path.join(a.out, shot))
                    break
                except StaleElementReferenceException:  # replaced by the live refresh
                    time.sleep(0.05)

        # The consoles: the new master's, and a slave's (which names the master).
        if new in ports:
            d.get(with_credentials(f"http://127.0.0.1:{ports[new]}/admin/", a.user, a.password))
            WebDriverWait(d, 10).until(lambda d: "MASTER" in d.find_element(By.ID, "banner").text)
            d.save_screenshot(os.path.join(a.out, "console-master.png"))
            d.get(with_credentials(f"http://127.0.0.1:{ports[new]}/admin/queues.jsp", a.user, a.password))
            d.save_screenshot(os.path.join(a.out, "console-queues.png"))
            seen["queues_page"] = d.find_element(By.TAG_NAME, "main").text[:300]
        slaves = [n for n in ports if n not in (old, new)]
        if slaves:
            s = slaves[0]
            d.get(with_credentials(f"http://127.0.0.1:{ports[s]}/admin/", a.user, a.password))
            try:
                WebDriverWait(d, 15).until(lambda d: "SLAVE" in d.find_element(By.ID, "banner").text
                                           and new in d.find_element(By.ID, "banner").text)
            except TimeoutException:
                fail(d, f"{s}'s console does not say it is a slave of {new}")
            seen["slave_banner"] = d.find_element(By.ID, "banner").text
            seen["slave_link"] = d.find_element(By.ID, "master-link").get_attribute("href")
            d.save_screenshot(os.path.join(a.out, "console-slave.png"))

        # Back to the dashboard: restart the killed broker, then cut the master from
        # ZooKeeper with the lesson bar (a master alone cannot be elected: three brokers).
        d.get(with_credentials(a.url, a.user, a.password))
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-updated"))
        click(d, f"#brokers tr[data-node='{old}'] button[data-verb=start]", f"start {old}")
        try:
            wait.until(lambda d: d.find_element(
                By.CSS_SELECTOR, f"#brokers tr[data-node='{old}']").get_attribute("data-state") == "slave")
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#topology g[data-slave='{old}']"))
        except TimeoutException:
            fail(d, f"{old} did not come back as a slave")
        click(d, "#partition-zk", "cut master from ZooKeeper")
        try:
            wait.until(lambda d: "partitioned from zk" in text_of(d, "#result"))
        except TimeoutException:
            fail(d, "the partition button did not report the cut")
        seen["partition_result"] = text_of(d, "#result")

        def moved_again(d):
            m = masters(d)
            return m[0] if len(m) == 1 and m[0] != new and topology_master(d) == m[0] \
                and sequence_master(d) == m[0] else False
        try:
            third = wait.until(moved_again)
        except TimeoutException:
            fail(d, f"no failover (table, topology and sequence diagram) after cutting {new} from ZooKeeper")
        seen["partition_new_master"] = third
        seen["partition_sequence_text"] = text_of(d, "#sequence svg")
        click(d, "#heal", "heal")
        try:
            wait.until(lambda d: "healed" in text_of(d, "#result"))
            wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#brokers .dg-cut, #topology .dg-cut"))
        except TimeoutException:
            fail(d, "heal did not reconnect the partitioned broker")
        seen["heal_result"] = text_of(d, "#result")
        click(d, "#load-stop", "stop load")
        try:
            wait.until(lambda d: "load stopped" in text_of(d, "#result"))
            wait.until(lambda d: "no load running" in text_of(d, "#load"))
        except TimeoutException:
            fail(d, "the load did not stop")
        seen["load_stopped"] = text_of(d, "#result")
        print(json.dumps(seen))
    finally:
        stop.set()
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
