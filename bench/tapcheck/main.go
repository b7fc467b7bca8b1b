// Command tapcheck checks the tap's figures against an independent observer.
//
//	tapcheck freeport
//	tcpdump -r CAP -tt -nn -x | tapcheck accuracy -port PORT -results results.jsonl
//	tapcheck overhead -tap DIR -notap DIR
//
// accuracy rebuilds each TCP connection to the server from tcpdump's hex dump
// (no pcap library: the text format is stable and enough), finds the
// handshake and publish phases in the byte streams, and compares them with
// the tap's marks of the same attempt. overhead compares two runs of one
// scenario, with and without the tap.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tapcheck freeport | accuracy -port PORT -results FILE < tcpdump-text | overhead -tap DIR -notap DIR")
		os.Exit(1)
	}
	var err error
	switch os.Args[1] {
	case "freeport":
		err = freePort()
	case "accuracy":
		err = accuracyCmd(os.Args[2:])
	case "overhead":
		err = overheadCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tapcheck:", err)
		os.Exit(1)
	}
}

// freePort prints a loopback port that was free a moment ago; the scripts
// need the server's port before the run to give it to tcpdump.
func freePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

func accuracyCmd(args []string) error {
	fs := flag.NewFlagSet("accuracy", flag.ExitOnError)
	port := fs.Int("port", 0, "the server's RTMP port (the capture's server side)")
	results := fs.String("results", "", "the run's results.jsonl")
	fs.Parse(args) //nolint:errcheck // ExitOnError
	if *port == 0 || *results == "" {
		return errors.New("accuracy needs -port and -results")
	}
	conns, err := readCapture(os.Stdin, uint16(*port))
	if err != nil {
		return err
	}
	wires, err := readWires(*results)
	if err != nil {
		return err
	}
	return printAccuracy(os.Stdout, conns, wires)
}

// readWires returns the tap's record of each attempt's connection.
func readWires(path string) (map[string]*schema.WireConn, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	wires := make(map[string]*schema.WireConn)
	err = schema.Read(f, func(ev schema.Event) error {
		if ev.Type == schema.TypeWire && ev.Wire != nil && ev.Wire.Attempt != "" {
			wires[ev.Wire.Attempt] = ev.Wire
		}
		return nil
	})
	return wires, err
}

func overheadCmd(args []string) error {
	fs := flag.NewFlagSet("overhead", flag.ExitOnError)
	withTap := fs.String("tap", "", "output directory of the run with the tap")
	noTap := fs.String("notap", "", "output directory of the run without the tap")
	fs.Parse(args) //nolint:errcheck // ExitOnError
	if *withTap == "" || *noTap == "" {
		return errors.New("overhead needs -tap and -notap")
	}
	a, err := loadRun(*noTap)
	if err != nil {
		return err
	}
	b, err := loadRun(*withTap)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\twithout tap\twith tap\tdifference\t")
	row := func(name, unit string, x, y float64) {
		fmt.Fprintf(tw, "%s\t%.2f %s\t%.2f %s\t%+.2f %s\t\n", name, x, unit, y, unit, y-x, unit)
	}
	fmt.Fprintf(tw, "attempts ok\t%d/%d\t%d/%d\t\t\n", a.ok, a.attempts, b.ok, b.attempts)
	fmt.Fprintf(tw, "wall time\t%.1f s\t%.1f s\t\t\n", a.wall.Seconds(), b.wall.Seconds())
	row("rtmpload cpu (% of one core)", "%", a.selfPct(), b.selfPct())
	row("rtmpload max rss", "MiB", a.selfRSS(), b.selfRSS())
	row("ffmpegs cpu (% of one core)", "%", a.childPct(), b.childPct())
	row("publish_start p50 (ffmpeg)", "ms", a.start.P50, b.start.P50)
	row("publish_start p99 (ffmpeg)", "ms", a.start.P99, b.start.P99)
	if err := tw.Flush(); err != nil {
		return err
	}
	if b.publish.Count > 0 {
		fmt.Printf("\nwire publish (publish command to Publish.Start, tap run): p50 %.3f ms  p99 %.3f ms  n=%d\n",
			b.publish.P50, b.publish.P99, b.publish.Count)
	}
	return nil
}

type runFigures struct {
	attempts, ok int
	wall         time.Duration
	usage        schema.Usage
	start        report.LatencyRow // ffmpeg publish_start, all groups
	publish      report.LatencyRow // wire publish, all groups
}

func (r runFigures) selfPct() float64 {
	return 100 * r.usage.SelfCPU.Seconds() / r.wall.Seconds()
}
func (r runFigures) childPct() float64 {
	return 100 * r.usage.ChildCPU.Seconds() / r.wall.Seconds()
}
func (r runFigures) selfRSS() float64 { return float64(r.usage.SelfMaxRSS) / (1 << 20) }

func loadRun(dir string) (runFigures, error) {
	var r runFigures
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return r, err
	}
	var s report.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return r, fmt.Errorf("%s: %w", dir, err)
	}
	if s.Usage == nil || s.Ended.IsZero() {
		return r, fmt.Errorf("%s: report has no usage or end time: did the run finish?", dir)
	}
	r.attempts, r.ok = s.Attempts, s.Outcomes["ok"]
	r.usage = *s.Usage
	// The usage covers the whole process, so divide by its whole life, clip
	// preparation included, not by the scenario's duration.
	r.wall = s.Ended.Sub(s.Run.Started)
	for _, l := range s.Latency {
		if l.Group != "all" {
			continue
		}
		switch {
		case l.Metric == "publish_start" && l.Source == "ffmpeg":
			r.start = l
		case l.Metric == schema.MetricPublish && l.Source == "wire":
			r.publish = l
		}
	}
	if r.start.Count == 0 {
		return r, fmt.Errorf("%s: no ffmpeg publish_start figures", dir)
	}
	return r, nil
}
