package publisher

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

// avGetToken splits s as libavutil's av_get_token does (the tee muxer splits its outputs with
// it): a backslash takes the next character literally, '...' is taken literally, a character of
// term ends the token, and white space around it is dropped.
func avGetToken(s, term string) (tok, rest string) {
	s = strings.TrimLeft(s, " \n\t\r")
	var out []byte
	end := 0
	i := 0
	for i < len(s) && !strings.ContainsRune(term, rune(s[i])) {
		c := s[i]
		i++
		switch {
		case c == '\\' && i < len(s):
			out = append(out, s[i])
			i++
			end = len(out)
		case c == '\'':
			for i < len(s) && s[i] != '\'' {
				out = append(out, s[i])
				i++
			}
			if i < len(s) {
				i++
				end = len(out)
			}
		default:
			out = append(out, c)
		}
	}
	for len(out) > end && strings.ContainsRune(" \n\t\r", rune(out[len(out)-1])) {
		out = out[:len(out)-1]
	}
	return string(out), s[i:]
}

// teeSlaves splits a tee output string into its outputs, as tee does.
func teeSlaves(spec string) []string {
	var slaves []string
	for spec != "" {
		var tok string
		tok, spec = avGetToken(spec, "|")
		slaves = append(slaves, tok)
		spec = strings.TrimPrefix(spec, "|")
	}
	return slaves
}

// fakeTee behaves as ffmpeg 5.1's tee muxer does with -loglevel level+verbose (the lines are
// copied from a real run against `rtmpload serve`): outputs whose URL holds "refuse" cannot
// connect, "busy" are refused after the publish, "drop" open and fail 300 ms later with a broken
// pipe; the others publish until SIGINT.
func fakeTee() int {
	var spec string
	for _, a := range os.Args {
		if strings.HasPrefix(a, teeSlaveOptions) {
			spec = a
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	fmt.Fprintln(os.Stderr, "[info] Input #0, flv, from 'clip.flv':")
	fmt.Fprintln(os.Stderr, "[h264 @ 0x5638380a0000] [verbose] Reinit context to 1280x720, pix_fmt: yuv420p")
	slaves := teeSlaves(spec)
	live := len(slaves)
	var drops []int
	for i, slave := range slaves {
		url := strings.TrimPrefix(slave, teeSlaveOptions)
		tcp := fmt.Sprintf("[tcp @ 0x56383800%04x]", i)
		fmt.Fprintf(os.Stderr, "%s [verbose] Starting connection attempt to 127.0.0.1 port 19401\n", tcp)
		switch {
		case strings.Contains(url, "refuse"):
			live--
			fmt.Fprintf(os.Stderr, "%s [error] Connection to tcp://127.0.0.1:19999?tcp_nodelay=0 failed: Connection refused\n", tcp)
			fmt.Fprintf(os.Stderr, "[rtmp @ 0x5638380b%04x] [error] Cannot open connection tcp://127.0.0.1:19999?tcp_nodelay=0\n", i)
			fmt.Fprintf(os.Stderr, "[tee @ 0x5638380a3700] [error] Slave '%s': error opening: Connection refused\n", slave)
			fmt.Fprintf(os.Stderr, "[tee @ 0x5638380a3700] [error] Slave muxer #%d failed: Connection refused, continuing with %d/%d slaves.\n", i, live, len(slaves))
		case strings.Contains(url, "busy"):
			live--
			fmt.Fprintf(os.Stderr, "%s [verbose] Successfully connected to 127.0.0.1 port 19401\n", tcp)
			fmt.Fprintf(os.Stderr, "[tee @ 0x5638380a3700] [error] Slave '%s': error opening: Input/output error\n", slave)
			fmt.Fprintf(os.Stderr, "[tee @ 0x5638380a3700] [error] Slave muxer #%d failed: Input/output error, continuing with %d/%d slaves.\n", i, live, len(slaves))
		default:
			fmt.Fprintf(os.Stderr, "%s [verbose] Successfully connected to 127.0.0.1 port 19401\n", tcp)
			fmt.Fprintf(os.Stderr, "[tee @ 0x5638380a3700] [verbose] filename:'%s' format:flv\n", url)
			fmt.Fprintln(os.Stderr, "[tee @ 0x5638380a3700] [verbose]     stream:0 codec:h264 type:video bsfs: null")
			if strings.Contains(url, "drop") {
				drops = append(drops, i)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "[info] Output #0, tee, to '%s':\n", spec)
	if live == 0 {
		fmt.Fprintln(os.Stderr, "[tee @ 0x5638380a3700] [error] All tee outputs failed.")
		fmt.Fprintln(os.Stderr, "[error] Could not write header for output file #0 (incorrect codec parameters ?): Input/output error")
		return 1
	}
	tick := time.NewTicker(100 * time.Millisecond)
	for frame := 1; frame < int(fakeLifetime/(100*time.Millisecond)); frame++ {
		select {
		case <-sig:
			fmt.Print(progressBlock(frame, true))
			fmt.Fprintln(os.Stderr, "[info] Exiting normally, received signal 2.")
			return 255
		case <-tick.C:
			fmt.Print(progressBlock(frame, false))
			if frame == 3 {
				for _, i := range drops {
					live--
					fmt.Fprintf(os.Stderr, "[tee @ 0x5638380a3700] [error] Slave muxer #%d failed: Broken pipe, continuing with %d/%d slaves.\n", i, live, len(slaves))
				}
			}
		}
	}
	return 0
}
