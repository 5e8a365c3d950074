"""Unit tests of the harness's pure parts: wrk parsing, configs, summaries, table.

    python3 -m unittest discover -s benches
"""

import gzip
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import config, h2load, report, wrk  # noqa: E402

WRK_OUTPUT = """\
Running 4s test @ http://127.0.0.1:18000/ret
  1 threads and 10000 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   210.50ms   80.10ms   1.50s    70.00%
    Req/Sec    45.12k     3.01k   50.00k    80.00%
  Latency Distribution
     50%  850.00us
     75%    1.20ms
     90%  300.00ms
     99%    1.50s
  180000 requests in 4.01s, 26.27MB read
  Socket errors: connect 12, read 3, write 0, timeout 7
  Non-2xx or 3xx responses: 42
Requests/sec:  44887.78
Transfer/sec:      6.55MB
"""


class WrkParse(unittest.TestCase):
    def test_full_report(self):
        r = wrk.parse(WRK_OUTPUT)
        self.assertEqual(r["requests"], 180000)
        self.assertAlmostEqual(r["seconds"], 4.01)
        self.assertAlmostEqual(r["rps"], 44887.78)
        self.assertEqual(r["read_bytes"], int(26.27 * (1 << 20)))
        self.assertAlmostEqual(r["p50_ms"], 0.85)
        self.assertAlmostEqual(r["p75_ms"], 1.2)
        self.assertAlmostEqual(r["p99_ms"], 1500.0)
        self.assertEqual(r["errors"], {"connect": 12, "read": 3, "write": 0, "timeout": 7})
        self.assertEqual(r["socket_errors"], 22)
        self.assertEqual(r["non_2xx_3xx"], 42)

    def test_clean_run_has_zero_errors(self):
        text = "\n".join(line for line in WRK_OUTPUT.splitlines()
                         if "errors" not in line and "Non-2xx" not in line)
        r = wrk.parse(text)
        self.assertEqual((r["socket_errors"], r["non_2xx_3xx"]), (0, 0))

    def test_failed_run(self):
        self.assertIsNone(wrk.parse("unable to connect to 127.0.0.1:1 Connection refused"))

    def test_argv_is_pinned(self):
        cmd = wrk.argv("http://127.0.0.1:1/", 100, 3, 1, 10, cpu=1)
        self.assertEqual(cmd[:3], ["taskset", "-c", "1"])
        self.assertIn("--latency", cmd)
        self.assertIn("-c100", cmd)


class Configs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.docroot = os.path.join(self.tmp.name, "html")
        config.make_docroot(self.docroot)
        self.scenarios = config.scenarios(self.docroot)

    def tearDown(self):
        self.tmp.cleanup()

    def conf(self, name):
        return config.server_conf(self.scenarios[name], 18001, self.docroot,
                                  {"upstream": 18002, "tornado": 18003,
                                   "php-fpm": "/tmp/php.sock"}, 1, 4096, 4096)

    def test_docroot_files(self):
        self.assertLess(abs(os.path.getsize(os.path.join(self.docroot, "small.html")) - 600), 20)
        self.assertEqual(os.path.getsize(os.path.join(self.docroot, "big.bin")), 1 << 20)

    def test_common_settings(self):
        text = self.conf("small")
        for directive in ("user root;", "worker_processes 1;", "access_log off;",
                          "error_log logs/error.log error;", "keepalive_requests 10000;",
                          "keepalive_timeout 65;", "sendfile on;", "tcp_nopush on;",
                          "listen 127.0.0.1:18001 backlog=4096;", f"root {self.docroot};"):
            self.assertIn(directive, text)
        self.assertNotIn("return", text)          # only the scenario's own directives
        self.assertNotIn("proxy_pass", text)

    def test_proxy_has_keepalive_upstream(self):
        text = self.conf("proxy")
        for directive in ("server 127.0.0.1:18002;", "keepalive 32;",
                          "proxy_pass http://bench_upstream/;", "proxy_http_version 1.1;",
                          'proxy_set_header Connection "";'):
            self.assertIn(directive, text)

    def test_fastcgi_passes_nginx_s_params_to_php_fpm(self):
        text = self.conf("fastcgi")
        for directive in ("server unix:/tmp/php.sock;", "fastcgi_pass php_fpm;",
                          "fastcgi_param  QUERY_STRING       $query_string;",
                          "fastcgi_param SCRIPT_FILENAME $document_root/hello.php;"):
            self.assertIn(directive, text)
        self.assertNotIn("fastcgi_keep_conn", text)   # nginx's default: no kept connections

    def test_balanced_braces(self):
        for name in self.scenarios:
            text = self.conf(name)
            self.assertEqual(text.count("{"), text.count("}"), name)

    def test_gzip_scenarios(self):
        for name, level in (("gzip1", 1), ("gzip6", 6)):
            text = self.conf(name)
            self.assertIn(f"gzip_comp_level {level};", text)
            self.assertIn("Accept-Encoding: gzip, deflate", self.scenarios[name].headers)
        self.assertEqual(self.scenarios["page"].headers, ())
        self.assertIn("proxy_pass http://bench_upstream/json/;", self.conf("gzproxy"))
        self.assertIn("gzip_types application/json;", self.conf("json"))
        self.assertIn("location /json/", config.upstream_conf(1, 2, 3, docroot="/d"))
        page = self.scenarios["gzip1"]
        body = page.expect_body
        self.assertEqual(len(body), config.PAGE_SIZE)
        self.assertIsNone(page.check(200, gzip.compress(body), {"Content-Encoding": "gzip"}))
        self.assertEqual(page.check(200, body, {}), "not gzipped")
        self.assertIn("invalid gzip", page.check(200, b"xx", {"Content-Encoding": "gzip"}))
        cmd = wrk.argv("http://127.0.0.1:1/", 100, 3, 1, 10, headers=page.headers)
        self.assertIn("Accept-Encoding: gzip, deflate", cmd)

    def test_check(self):
        ret = self.scenarios["return"]
        self.assertIsNone(ret.check(200, b"hello\n"))
        self.assertIn("404", ret.check(404, b""))
        self.assertIn("wrong body", ret.check(200, b"nope"))


class Report(unittest.TestCase):
    ROUNDS = [{"rps": 100.0, "cpu_s": 1.0, "req_per_cpu_s": 400.0, "p50_ms": 1.0,
               "p99_ms": 4.0, "wrk_cpu_pct": 50.0, "socket_errors": 1, "non_2xx_3xx": 0},
              {"rps": 300.0, "cpu_s": 3.0, "req_per_cpu_s": 800.0, "p50_ms": 3.0,
               "p99_ms": 8.0, "wrk_cpu_pct": 70.0, "socket_errors": 2, "non_2xx_3xx": 5},
              {"error": "wrk exit 1"}]

    def test_summarize_medians_and_totals(self):
        s = report.summarize(self.ROUNDS)
        self.assertEqual((s["rounds_ok"], s["rounds"]), (2, 3))
        self.assertEqual(s["rps"], 200.0)
        self.assertEqual(s["socket_errors"], 3)
        self.assertEqual(s["non_2xx_3xx"], 5)

    def test_ratios(self):
        r = report.ratios({"rps": 50, "cpu_s": 3, "req_per_cpu_s": 10, "p50_ms": 1, "p99_ms": 2},
                          {"rps": 100, "cpu_s": 4, "req_per_cpu_s": 10, "p50_ms": 2,
                           "p99_ms": 1})
        self.assertEqual(r, {"rps": 0.5, "cpu_s": 0.75, "req_per_cpu_s": 1.0, "p50_ms": 0.5,
                             "p99_ms": 2.0})
        self.assertEqual(report.ratios(None, {"rps": 1})["rps"], None)

    def test_table_shows_unsupported(self):
        ok = {"status": "ok", "reason": "", "median": report.summarize(self.ROUNDS)}
        bad = {"status": "unsupported", "reason": "unknown directive \"return\""}
        point = {"scenario": "return", "conns": 100, "conns_requested": 100,
                 "servers": {"portico": bad, "nginx": ok}, "ratios": report.ratios(None, None)}
        text = report.table([point])
        self.assertIn("UNSUPPORTED", text)
        self.assertIn("200", text)
        self.assertIn("unknown directive", "\n".join(report.reasons([point])))

    def test_error_share_counts_timeouts_and_error_answers(self):
        rounds = [{"rps": 1.0, "requests": 90, "socket_errors": 10, "non_2xx_3xx": 0},
                  {"rps": 1.0, "requests": 100, "socket_errors": 0, "non_2xx_3xx": 50},
                  {"error": "wrk exit 1"}]
        self.assertAlmostEqual(report.error_share(rounds), 60 / 200)
        self.assertEqual(report.error_share([]), 0.0)

    def test_withheld_ratios_are_explained(self):
        ok = {"status": "ok", "reason": "", "median": report.summarize(self.ROUNDS)}
        point = {"scenario": "tornado", "conns": 9968, "conns_requested": 10000,
                 "servers": {"portico": ok, "nginx": ok}, "ratios": report.ratios(None, None),
                 "ratios_withheld": "nginx 95% errors"}
        self.assertIn("9968*", report.table([point]))
        self.assertEqual(report.reasons([point]),
                         ["  tornado c=9968: ratios withheld (nginx 95% errors)"])


    def test_interleaved_passes_merge_per_point(self):
        import bench

        def point(name, portico_rps, nginx_status="ok"):
            rounds = {"portico": [{"rps": portico_rps, "requests": 10, "cpu_s": 1.0,
                                   "req_per_cpu_s": 10.0}],
                      "nginx": [{"rps": 50.0, "requests": 10, "cpu_s": 1.0,
                                 "req_per_cpu_s": 10.0}]}
            return {"scenario": name, "path": "/" + name, "conns": 100,
                    "conns_requested": 100, "ratios": {},
                    "servers": {label: {"status": nginx_status if label == "nginx" else "ok",
                                        "reason": "", "rounds": r}
                                for label, r in rounds.items()}}

        # Passes ran b,a then a,b: the merged points follow the scenarios' order.
        merged = bench.merge_passes([point("b", 300.0), point("a", 100.0),
                                     point("a", 200.0), point("b", 400.0, "crashed")],
                                    ["a", "b"])
        self.assertEqual([p["scenario"] for p in merged], ["a", "b"])
        a, b = merged
        self.assertEqual([r["rps"] for r in a["servers"]["portico"]["rounds"]], [100.0, 200.0])
        self.assertEqual(a["servers"]["portico"]["median"]["rps"], 150.0)
        self.assertEqual(a["ratios"]["rps"], 3.0)
        self.assertEqual(b["servers"]["nginx"]["status"], "crashed")
        self.assertEqual(b["ratios"]["rps"], None)


H2LOAD_OUTPUT = """finished in 1.00s, 93742.00 req/s, 11.35MB/s
requests: 93742 total, 93750 started, 93742 done, 93740 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 93740 2xx, 0 3xx, 3 4xx, 0 5xx
traffic: 11.35MB (11905430) total, 8.67MB (9092974) headers, 274.63KB (281226) data
                     min         max         mean         sd        +/- sd
time for request:       20us      3.70ms        65us        62us    98.42%
"""

S_TIME_OUTPUT = """Collecting connection statistics for 1 seconds
starting
rrrrrrrrrr3

10 connections in 0.63s; 15.87 connections/user sec, bytes read 2330
10 connections in 2 real seconds, 233 bytes read per connection
"""


class NonWrkClients(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.docroot = os.path.join(self.tmp.name, "html")
        config.make_docroot(self.docroot)
        self.scenarios = config.scenarios(self.docroot)

    def tearDown(self):
        self.tmp.cleanup()

    def test_parse_h2load(self):
        r = h2load.parse_h2load(H2LOAD_OUTPUT)
        self.assertEqual((r["requests"], r["rps"], r["seconds"]), (93740, 93742.0, 1.0))
        self.assertEqual((r["socket_errors"], r["non_2xx_3xx"]), (2, 3))
        self.assertAlmostEqual(r["mean_ms"], 0.065)
        self.assertIsNone(h2load.parse_h2load("connect failed"))

    def test_parse_s_time_counts_resumed_handshakes(self):
        r = h2load.parse_s_time(S_TIME_OUTPUT, 2.0, reuse=True)
        self.assertEqual((r["requests"], r["rps"], r["resumed"]), (10, 5.0, 10))
        self.assertEqual(h2load.parse_s_time(S_TIME_OUTPUT, 2.0, reuse=False)["requests"], 10)
        unresumed = S_TIME_OUTPUT.replace("rrrrrrrrrr3", "33333333333")
        self.assertIn("resumed", h2load.parse_s_time(unresumed, 2.0, reuse=True)["error"])

    def test_h2_config(self):
        text = config.server_conf(self.scenarios["h2_proxy"], 18001, self.docroot,
                                  {"upstream": 18002}, 1, 4096, 4096)
        self.assertIn("listen 127.0.0.1:18001 backlog=4096 ssl http2;", text)
        self.assertIn("keepalive_requests 100000000;", text)
        self.assertIn("proxy_pass http://bench_upstream/;", text)
        rsa = config.server_conf(self.scenarios["tls_handshake_rsa"], 18001, self.docroot,
                                 {}, 1, 4096, 4096)
        self.assertIn("rsa.crt", rsa)
        self.assertNotIn("http2", rsa)
        cmd = h2load.h2load_argv("https://127.0.0.1:1/", 100, 10, 4)
        self.assertEqual(cmd[1:7], ["-c", "100", "-m", "10", "-D", "4"])


if __name__ == "__main__":
    unittest.main()
