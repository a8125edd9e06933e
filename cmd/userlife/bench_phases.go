package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
	"github.com/userlife/userlife/cmd/userlife/internal/benchkit"
	"github.com/userlife/userlife/projections/revocation"
	"github.com/userlife/userlife/projections/revocation/revbench"
)

// The phases of `userlife bench`, each adding its figures to the report.

// benchService runs the service in-process on url and measures commands
// and revocation propagation.
func benchService(ctx context.Context, cfg benchConfig, sz benchSizes, r *benchkit.Report, js jetstream.JetStream, url string, progress func(string, ...any)) error {
	app, err := Start(ctx, ServeConfig{NATSURL: url, Concurrency: 64, CacheUsers: 100_000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer app.Close()
	store, err := natsadapter.NewEventStore(ctx, js)
	if err != nil {
		return err
	}
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		return err
	}
	cmdIDs, propIDs := userIDs("bench-", sz.cmdUsers), userIDs("prop-", 2*sz.propCount)
	progress("seeding %d confirmed users", len(cmdIDs)+len(propIDs))
	if err := seedConfirmed(ctx, store, slices.Concat(cmdIDs, propIDs), 16); err != nil {
		return err
	}
	if err := benchCommands(ctx, sz, r, js, client, cmdIDs, progress); err != nil {
		return err
	}
	return benchPropagation(ctx, sz, r, js, url, client, cmdIDs, propIDs, progress)
}

func benchCommands(ctx context.Context, sz benchSizes, r *benchkit.Report, js jetstream.JetStream, client *natsadapter.Client, ids []string, progress func(string, ...any)) error {
	for _, inflight := range concurrencies {
		load := sz.cmdLoad
		load.InFlight = inflight
		raw, err := rawPublishFresh(ctx, js, load)
		if err != nil {
			return err
		}
		svc, err := measureCommands(ctx, client, ids, load)
		if err != nil {
			return err
		}
		progress("commands, %d in flight: %s/s, p99 %s ms (raw publish %s/s, p99 %s ms)", inflight,
			benchkit.Num(svc.Rate()), benchkit.Num(benchkit.Ms(svc.Quantile(0.99))), benchkit.Num(raw.Rate()), benchkit.Num(benchkit.Ms(raw.Quantile(0.99))))
		r.AddPoint(curveRaw, inflight, raw.Rate())
		r.AddPoint(curveCommands, inflight, svc.Rate())
		if inflight != 1 && inflight != 64 {
			continue
		}
		at := fmt.Sprintf("%d in flight", inflight)
		anchor := "raw publishes/s, " + at
		f := benchkit.NewFigure(fmt.Sprintf("commands_per_sec_%d", inflight), "commands/s, "+at, benchkit.Rate, svc.Rate(), "/s", raw.Rate(), anchor)
		if inflight == 64 {
			f = f.WithTarget("≥ 5,000/s and ≥ 25 % of raw", svc.Rate() >= 5000 && f.Ratio >= 0.25)
		}
		r.Add(f)
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.5}, {"p99", 0.99}} {
			r.Add(benchkit.NewFigure(fmt.Sprintf("command_%s_ms_%d", q.name, inflight), fmt.Sprintf("command outcome latency %s, %s", q.name, at),
				benchkit.Cost, benchkit.Ms(svc.Quantile(q.q)), "ms", benchkit.Ms(raw.Quantile(q.q)), "raw publish "+q.name))
		}
		r.AddLatency("commands", "commands, "+at, svc.Latencies)
		r.AddLatency("commands", "raw publish, "+at, raw.Latencies)
	}
	return nil
}

// rawPublishFresh measures raw publishes on a stream of their own,
// configured like the event stream, created for the measurement and
// deleted after it.
func rawPublishFresh(ctx context.Context, js jetstream.JetStream, load natsbench.Load) (natsbench.Result, error) {
	prefix, drop, err := natsbench.RawStream(ctx, js, natsadapter.EventsStream, "USERLIFE_BENCH_RAW")
	if err != nil {
		return natsbench.Result{}, err
	}
	defer func() { _ = drop(context.WithoutCancel(ctx)) }()
	raw, err := natsbench.RawPublish(ctx, js, prefix, load, 10_000)
	if err != nil {
		return raw, fmt.Errorf("raw publish: %w", err)
	}
	return raw, nil
}

func benchPropagation(ctx context.Context, sz benchSizes, r *benchkit.Report, js jetstream.JetStream, url string, client *natsadapter.Client, bgIDs, ids []string, progress func(string, ...any)) error {
	gw, err := natsadapter.Connect(url, "userlife-bench-gateway", slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer gw.Close()
	gjs, err := jetstream.New(gw)
	if err != nil {
		return err
	}
	checker := revocation.NewChecker(revocation.Config{})
	w, err := natsadapter.WatchRevocations(ctx, gjs, checker, nil)
	if err != nil {
		return err
	}
	defer w.Stop()
	nc := js.Conn()
	rttLoad := natsbench.Load{Count: sz.rttCount, MaxTime: sz.propTime}

	measure := func(name string, ids []string) (natsbench.Result, natsbench.Result, error) {
		rtt, err := natsbench.RoundTrips(ctx, nc, rttLoad)
		if err != nil {
			return rtt, rtt, err
		}
		lat, err := measurePropagation(ctx, client, checker, ids, sz.propTime)
		if err != nil {
			return rtt, lat, err
		}
		progress("revocation propagation, %s: p50 %s ms, p99 %s ms over %d (core NATS round trip p99 %s ms)", name,
			benchkit.Num(benchkit.Ms(lat.Quantile(0.5))), benchkit.Num(benchkit.Ms(lat.Quantile(0.99))), lat.Ops, benchkit.Num(benchkit.Ms(rtt.Quantile(0.99))))
		return rtt, lat, nil
	}
	rttIdle, idle, err := measure("idle", ids[:sz.propCount])
	if err != nil {
		return err
	}
	bg := startBackground(ctx, client, bgIDs, 1000, 10*time.Minute)
	if err := sleep(ctx, 200*time.Millisecond); err != nil { // let the load reach its steady state
		_, _ = bg.Stop()
		return err
	}
	rttBusy, busy, err := measure("under 1,000 commands/s", ids[sz.propCount:])
	rate, bgErr := bg.Stop()
	if err := errors.Join(err, bgErr); err != nil {
		return err
	}
	add := func(id, name string, lat, rtt natsbench.Result, note string) {
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.5}, {"p99", 0.99}} {
			f := benchkit.NewFigure(fmt.Sprintf("revocation_%s_ms_%s", q.name, id), fmt.Sprintf("revocation propagation %s, %s", q.name, name),
				benchkit.Cost, benchkit.Ms(lat.Quantile(q.q)), "ms", benchkit.Ms(rtt.Quantile(q.q)), "core NATS round trip "+q.name).WithNote(note)
			if q.name == "p99" {
				f = f.WithTarget("≤ 5 ms", f.Value <= 5)
			}
			r.Add(f)
		}
		r.AddLatency("revocation", "propagation, "+name, lat.Latencies)
		r.AddLatency("revocation", "core NATS round trip, "+name, rtt.Latencies)
	}
	add("idle", "idle", idle, rttIdle, "")
	add("load", "under load", busy, rttBusy, fmt.Sprintf("background RevokeSessions at %.0f/s achieved", rate))
	return nil
}

// benchReplay fills the stream up to cfg.Events more events and replays it.
func benchReplay(ctx context.Context, cfg benchConfig, r *benchkit.Report, js jetstream.JetStream, progress func(string, ...any)) error {
	users := cfg.Events / natsbench.LifecycleSteps
	progress("appending %d events (%d users × %d lifecycle steps) for the replays", users*natsbench.LifecycleSteps, users, natsbench.LifecycleSteps)
	if err := natsbench.PublishLifecycles(ctx, js, users, func(done int) { progress("  %d events appended", done) }); err != nil {
		return err
	}
	n, err := streamLength(ctx, js)
	if err != nil {
		return err
	}
	// Each figure's anchor is the faster of the raw reads just before and
	// just after it: on a shared machine one read alone can land in a lull
	// or a burst of other work.
	raws := make([]natsbench.Result, 0, 3)
	rawRead := func() error {
		raw, err := natsbench.OrderedRead(ctx, js, natsadapter.EventsStream, n, replayTimeout)
		raws = append(raws, raw)
		return err
	}
	faster := func(a, b natsbench.Result) float64 { return max(a.Rate(), b.Rate()) }
	if err := rawRead(); err != nil {
		return err
	}
	mem, err := measureReplayMemory(ctx, js, n)
	if err != nil {
		return err
	}
	if err := rawRead(); err != nil {
		return err
	}
	raw := faster(raws[0], raws[1])
	progress("replay into memory: %s events/s (raw ordered read %s msgs/s) over %d events", benchkit.Num(mem.Rate()), benchkit.Num(raw), n)
	f := benchkit.NewFigure("replay_memory_per_sec", "replay into memory, both projections", benchkit.Rate, mem.Rate(), "/s", raw, "raw ordered-consumer read")
	r.Add(f.WithTarget("≥ 60 % of raw", f.Ratio >= 0.6))

	audit, err := measureAuditScan(ctx, js, cfg.Audit, n)
	if err != nil {
		return err
	}
	if err := rawRead(); err != nil {
		return err
	}
	raw = faster(raws[1], raws[2])
	progress("audit scan: %s events/s (raw ordered read %s msgs/s)", benchkit.Num(audit.Rate()), benchkit.Num(raw))
	f = benchkit.NewFigure("audit_scan_per_sec", "audit scan of the whole stream", benchkit.Rate, audit.Rate(), "/s", raw, "raw ordered-consumer read")
	r.Add(f.WithTarget("≥ 60 % of raw", f.Ratio >= 0.6))

	if cfg.PostgresURL == "" {
		progress("PostgreSQL replay skipped: no --postgres or USERLIFE_TEST_DATABASE_URL")
		return nil
	}
	dsn, drop, err := benchDatabase(ctx, cfg.PostgresURL)
	if err != nil {
		return err
	}
	defer drop()
	pg, err := measureReplayPostgres(ctx, js, dsn, n)
	if err != nil {
		return err
	}
	cp, err := rawCopy(ctx, dsn, n)
	if err != nil {
		return err
	}
	progress("replay into PostgreSQL: %s events/s (raw CopyFrom %s rows/s)", benchkit.Num(pg.Rate()), benchkit.Num(cp.Rate()))
	f = benchkit.NewFigure("replay_postgres_per_sec", "replay into PostgreSQL (userlife replay, both projections)", benchkit.Rate, pg.Rate(), "/s", cp.Rate(), "raw CopyFrom of audit rows")
	r.Add(f.WithTarget("≥ 40 % of raw", f.Ratio >= 0.4))
	return nil
}

func benchFootprint(ctx context.Context, sz benchSizes, r *benchkit.Report, dir string, progress func(string, ...any)) error {
	progress("footprint: appending %d users (registered + confirmed) to a fresh embedded server", sz.fpUsers)
	fp, err := measureFootprint(ctx, dir, sz.fpUsers, sz.settle, progress)
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	per := func(b int64) float64 { return float64(b) / float64(fp.Users) * 100_000 / (1 << 20) }
	progress("footprint: heap %s MiB, disk %s MiB per 100,000 users", benchkit.Num(per(fp.HeapBytes)), benchkit.Num(per(fp.DiskBytes)))
	note := fmt.Sprintf("measured with %d users, scaled", fp.Users)
	r.Add(benchkit.NewFigure("server_memory_mib_per_100k_users", "server live heap per 100,000 users", benchkit.Cost, per(fp.HeapBytes), "MiB",
		per(fp.MessageBytes), "bytes of their messages (subject + payload)").WithNote(note))
	r.Add(benchkit.NewFigure("server_disk_mib_per_100k_users", "server disk per 100,000 users", benchkit.Cost, per(fp.DiskBytes), "MiB",
		per(fp.RawDiskBytes), "same messages on one subject").WithNote(note))
	return nil
}

func benchChecker(cfg benchConfig, sz benchSizes, r *benchkit.Report, progress func(string, ...any)) error {
	progress("checker: building a view of %d users", cfg.Users)
	d := revbench.NewDataset(cfg.Users)
	m := d.Map()
	c := d.Checker()
	// Two rounds, map then Checker, keeping each one's faster round: the
	// machine's other work comes and goes within seconds.
	var plain, check revbench.Result
	for round := range 2 {
		p := revbench.MeasureMap(d, m, sz.checkCount/2, sz.checkTime/2)
		k, err := revbench.MeasureCheck(d, c, sz.checkCount/2, sz.checkTime/2)
		if err != nil {
			return err
		}
		if round == 0 || p.NsPerOp() < plain.NsPerOp() {
			plain = p
		}
		if round == 0 || k.NsPerOp() < check.NsPerOp() {
			check = k
		}
	}
	progress("checker: %s ns/op, %s allocs/op (plain map %s ns/op)", benchkit.Num(check.NsPerOp()), benchkit.Num(float64(check.AllocsPerOp())), benchkit.Num(plain.NsPerOp()))
	users := benchkit.Num(float64(cfg.Users))
	f := benchkit.NewFigure("checker_ns_per_op", "Checker.Check, "+users+" users", benchkit.Cost, check.NsPerOp(), "ns", plain.NsPerOp(), "plain map lookup, same keys and order")
	r.Add(f.WithTarget("≤ 1.5× map, 0 allocs", f.Ratio <= 1.5 && check.AllocsPerOp() == 0))
	a := benchkit.NewFigure("checker_allocs_per_op", "Checker.Check allocations", benchkit.Cost, float64(check.AllocsPerOp()), "allocs/op", float64(plain.AllocsPerOp()), "plain map lookup")
	r.Add(a.WithTarget("0", check.AllocsPerOp() == 0))
	return nil
}
