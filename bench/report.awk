# bench/report.awk: turns bench/run.sh's runs.tsv into markdown tables (gawk).
# Each cell is the median over the interleaved runs; "x vegeta" is the median of the per-run ratios to vegeta's CPU
# per request in the same run (rep). Variables: rate (fixed-rate target), sections.
function median(arr, n,    tmp, i, m) {
	if (n == 0) return "NA"
	for (i = 1; i <= n; i++) tmp[i] = arr[i]
	m = asort(tmp)
	if (m % 2) return tmp[(m + 1) / 2]
	return (tmp[m / 2] + tmp[m / 2 + 1]) / 2
}
function fmt(v, d) { return v == "NA" || v == "" ? "NA" : sprintf("%." d "f", v) }
NR == 1 { next }
{
	sec = $1; rep = $2; tool = $3
	key = sec SUBSEP tool
	if (!(sec in seen_sec)) { seen_sec[sec] = 1; secs[++nsec] = sec }
	if (!(key in seen_tool)) { seen_tool[key] = 1; tools[sec, ++ntools[sec]] = tool }
	n = ++count[key]
	rss[key, n] = $7; resp[key, n] = $8; errs[key, n] = $9; rt[key, n] = $10; p99[key, n] = $11; cpu[key, n] = $12
	tgt[key, n] = $13; wall[key, n] = $4; reps[key, n] = rep
	cpu_by_rep[sec, tool, rep] = $12
	oth[key, n] = $14
	if ($15 != "") notes[key] = notes[key] (notes[key] == "" ? "" : "; ") "run " rep ": " $15
	# every-run checks for the fixed-rate goal
	if (sec == "fixed") {
		if ($10 == "NA" || $10 + 0 < 0.999 * rate) low_rate[tool]++
		if ($11 == "NA" || $11 + 0 > 2) { high_p99[tool]++; if ($14 + 0 > 25) high_p99_busy[tool]++ }
		if ($9 + 0 > 0) had_err[tool]++
	}
}
END {
	for (s = 1; s <= nsec; s++) {
		sec = secs[s]
		if (sec ~ /^memory-/) { mem[++nmem] = sec; continue }
		title = sec == "closed" ? "Closed loop, 50 connections" : "Fixed rate " rate " req/s"
		print "## " title
		print ""
		print "| generator | runs | req/s achieved | CPU µs/req | x vegeta (CPU/req) | p99 ms | peak RSS MB | errors | nginx CPU % | other CPU % |"
		print "|---|---|---|---|---|---|---|---|---|---|"
		for (t = 1; t <= ntools[sec]; t++) {
			tool = tools[sec, t]; key = sec SUBSEP tool; n = count[key]
			delete a; delete b; delete c; delete d; delete e; delete f; delete g; delete h
			nr = 0
			for (i = 1; i <= n; i++) {
				a[i] = rt[key, i]; b[i] = cpu[key, i]; c[i] = p99[key, i]; d[i] = rss[key, i] / 1024; e[i] = errs[key, i]; f[i] = tgt[key, i]; h[i] = oth[key, i]
				vc = cpu_by_rep[sec, "vegeta", reps[key, i]]
				if (vc != "" && vc != "NA" && b[i] != "NA") g[++nr] = b[i] / vc
			}
			med_cpu[sec, tool] = median(b, n); med_ratio[sec, tool] = median(g, nr); med_rate[sec, tool] = median(a, n); med_p99[sec, tool] = median(c, n)
			printf "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", tool, n, fmt(median(a, n), 0), fmt(med_cpu[sec, tool], 2), \
				fmt(med_ratio[sec, tool], 2) "x", fmt(median(c, n), 2), fmt(median(d, n), 1), fmt(median(e, n), 0), fmt(median(f, n), 0), fmt(median(h, n), 0)
		}
		print ""
		if (sec == "fixed") print "wrk and hey cannot hold a fixed rate (wrk2 is not packaged in Debian). vegeta's p99 is measured from the actual send; loadgen's from the intended send time (coordinated omission corrected). vegeta+st = vegeta with GODEBUG=schedtrace=2147483647, the sysmon fix loadgen is built with."
		for (t = 1; t <= ntools[sec]; t++) {
			tool = tools[sec, t]; key = sec SUBSEP tool
			if (notes[key] != "") print "- " tool ": " notes[key]
		}
		print ""
		lg = ""
		for (t = 1; t <= ntools[sec]; t++) if (tools[sec, t] ~ /^loadgen/ && tools[sec, t] != "loadgen-base") lg = tools[sec, t]
		if (lg != "") {
			if (sec == "closed") {
				r = med_ratio[sec, lg]
				printf "Goal, closed loop CPU/req <= 0.5x vegeta (%s): %s (%s x, %s µs/req)\n\n", lg, (r == "NA" ? "NOT EVALUATED (no vegeta run)" : r <= 0.5 ? "MET" : "MISSED"), fmt(r, 2), fmt(med_cpu[sec, lg], 2)
			} else {
				cc = med_cpu[sec, lg]
				printf "Goal, fixed rate CPU/req <= 20 µs (median, %s): %s (%s µs/req)\n", lg, (cc != "NA" && cc <= 20 ? "MET" : "MISSED"), fmt(cc, 2)
				printf "Goal, achieved rate >= 99.9%% of %d in every run: %s (%d run(s) below)\n", rate, (low_rate[lg] ? "MISSED" : "MET"), low_rate[lg]
				printf "Goal, p99 <= 2 ms in every run: %s (%d run(s) above, %d of them with other CPU > 25%% on the box; median %s ms)\n\n", (high_p99[lg] ? "MISSED" : "MET"), high_p99[lg], high_p99_busy[lg], fmt(med_p99[sec, lg], 2)
			}
		}
	}
	if (nmem > 0) {
		print "## Memory: " tools[mem[1], 1] " closed model, think time 1 s"
		print ""
		print "| VUs | peak RSS MB | requests OK | req/s | p99 ms | CPU µs/req | note |"
		print "|---|---|---|---|---|---|---|"
		for (m = 1; m <= nmem; m++) {
			sec = mem[m]; key = sec SUBSEP tools[sec, 1]; v = substr(sec, 8) + 0
			vus[m] = v; peak[m] = rss[key, 1]
			printf "| %d | %.1f | %s | %s | %s | %s | %s |\n", v, rss[key, 1] / 1024, resp[key, 1], fmt(rt[key, 1], 0), fmt(p99[key, 1], 2), fmt(cpu[key, 1], 2), notes[key]
		}
		print ""
		if (nmem >= 2) {
			big = peak[nmem] / 1024; per = (peak[nmem] - peak[1]) / (vus[nmem] - vus[1])
			printf "Goal, peak RSS <= 200 MB at %d VUs: %s (%.1f MB)\n", vus[nmem], (big <= 200 ? "MET" : "MISSED"), big
			printf "Goal, <= 16 KB per VU above the %d-VU base: %s (%.1f KB/VU)\n", vus[1], (per <= 16 ? "MET" : "MISSED"), per
		}
	}
}
