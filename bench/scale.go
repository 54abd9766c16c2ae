package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gif/internal/netns"
)

// Tuning of the scale test.
const (
	scaleCount = 1000 // gifs created by one gif netstart
	// ifconfigSample is how many gifs are created with one gif ifconfig
	// call each: at about a tenth of a second a call, a thousand would
	// add minutes to the run for little more knowledge.
	ifconfigSample = 100
	// scaleRSSLimit stops the creation when the daemon's resident memory
	// passes it, so that a data plane that allocates per interface cannot
	// exhaust the machine (24 GiB); the report says where it stopped.
	scaleRSSLimit = 8 << 30
	memoryPoll    = 100 * time.Millisecond
	devicePoll    = time.Second
	// netstartLimit and destroyLimit bound the two steps, each many
	// times what the target allows, so that a daemon that stops
	// answering costs minutes, not the run.
	netstartLimit = 3 * time.Minute
	destroyLimit  = 5 * time.Minute
	// destroySettle is how long after the last destroy the daemon's
	// memory is taken: Go returns freed memory to the system in the
	// background, within seconds.
	destroySettle = 10 * time.Second
	// scaleSource is the tunnel source of every gif, an address of the
	// host (on lo), so that they are RUNNING.
	scaleSource = "2001:db8::1"
)

// scaleResult is what the scale test measured. What goes wrong in gif is
// a finding, kept in the fields; Err is for the test itself failing.
type scaleResult struct {
	Count    int           // gifs gif netstart was asked to create
	Netstart time.Duration // one gif netstart -d DIR over Count hostname.gifN files
	Stopped  string        // why netstart was stopped; "" when it returned by itself
	AllAt    time.Duration // when Count gif devices existed, 0 if they never did
	Created  int           // gif devices after netstart
	Up       int           // of them, administratively up
	IdleRSS  uint64        // daemon's VmRSS before netstart, bytes
	RSS      uint64        // daemon's VmRSS after netstart
	PeakRSS  uint64        // daemon's VmHWM after netstart

	Destroyed      int           // gifs destroyed with one gif ifconfig gifN destroy call each
	Destroy        time.Duration // those calls, in all
	DestroyStopped string        // why the destroying stopped before the end
	Clean          string        // what was left afterwards; "" when nothing
	DestroyedRSS   uint64        // daemon's VmRSS destroySettle after the last destroy

	SampleCreated int           // gifs created one gif ifconfig call each
	SampleCreate  time.Duration // those calls, in all
	SampleStopped string        // why the sample was stopped early

	Err error
}

// scaleUnit returns the tunnel destination and inner address pair of gif
// n: every tunnel pair and every address pair differs, all from the
// documentation ranges.
func scaleUnit(n int) (tunnelDst, local, peer string) {
	return fmt.Sprintf("2001:db8:2::%x", n+1),
		fmt.Sprintf("198.51.100.%d", 1+n/250),
		fmt.Sprintf("203.0.113.%d", 1+n%250)
}

// hostnameFile is /etc/gif/hostname.gifN of gif n.
func hostnameFile(n int) string {
	dst, local, peer := scaleUnit(n)
	return fmt.Sprintf("tunnel %s %s\ninet %s 255.255.255.255\ndest %s\nup\n", scaleSource, dst, local, peer)
}

// ifconfigArgs configures gif n as its hostname file does, in one call.
func ifconfigArgs(n int) []string {
	dst, local, peer := scaleUnit(n)
	return []string{"ifconfig", "gif" + strconv.Itoa(n), "tunnel", scaleSource, dst, "inet", local, peer, "up"}
}

// gifLink is a gif device as `ip -o link show` lists it.
type gifLink struct {
	Name string
	Up   bool // the UP flag: administratively up
}

var gifLinkLine = regexp.MustCompile(`(?m)^\d+: (gif\d+)[:@][^<]*<([^>]*)>`)

func gifLinks(out string) []gifLink {
	var links []gifLink
	for _, m := range gifLinkLine.FindAllStringSubmatch(out, -1) {
		links = append(links, gifLink{Name: m[1], Up: slices.Contains(strings.Split(m[2], ","), "UP")})
	}
	return links
}

// listGifs returns the gif devices of n.
func listGifs(ctx context.Context, n *node) ([]gifLink, error) {
	out, err := n.run(ctx, "ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	return gifLinks(out), nil
}

// runScale creates scaleCount gifs with gif netstart in a fresh namespace,
// measures the daemon, destroys them one by one and checks that nothing
// is left; then times ifconfigSample gif ifconfig calls in another.
func runScale(ctx context.Context, tb *toolbox, logf func(string, ...any)) (res scaleResult) {
	res.Count = scaleCount
	if err := scaleNetstart(ctx, tb, &res, logf); err != nil {
		res.Err = err
		return res
	}
	if err := scaleIfconfig(ctx, tb, &res, logf); err != nil {
		res.Err = err
	}
	return res
}

// scaleHost is a fresh namespace with scaleSource on lo and a gif daemon.
func scaleHost(ctx context.Context, tb *toolbox) (lab *netns.Lab, n *node, pid int, err error) {
	lab, err = netns.NewLab(labPrefix)
	if err != nil {
		return nil, nil, 0, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, lab.Close())
		}
	}()
	if n, err = newNode(lab, tb, "s"); err != nil {
		return lab, nil, 0, err
	}
	if err = n.AddAddr("lo", scaleSource+"/128"); err != nil {
		return lab, nil, 0, err
	}
	if err = n.startGif(ctx, ""); err != nil {
		return lab, nil, 0, err
	}
	pid, err = n.processOf(ctx, "gif")
	return lab, n, pid, err
}

func scaleNetstart(ctx context.Context, tb *toolbox, res *scaleResult, logf func(string, ...any)) (err error) {
	lab, n, pid, err := scaleHost(ctx, tb)
	if err != nil {
		return fmt.Errorf("scale host: %w", err)
	}
	defer func() { err = errors.Join(err, lab.Close()) }()
	dir := filepath.Join(n.stateDir, "etc")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create hostname files: %w", err)
	}
	if res.IdleRSS, _, err = memory(pid); err != nil {
		return err
	}
	for i := range scaleCount {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("hostname.gif%d", i)), []byte(hostnameFile(i)), 0o600); err != nil {
			return fmt.Errorf("create hostname files: %w", err)
		}
	}

	run, cancel := context.WithTimeout(ctx, netstartLimit)
	defer cancel()
	w := watch(ctx, n, pid, cancel)
	start := time.Now()
	_, runErr := n.Run(run, "env", "GIF_STATE_DIR="+n.stateDir, ikeDirEnv(n.stateDir), tb.gif, "netstart", "-d", dir)
	res.Netstart = time.Since(start)
	stopped, allAt := w.stop()
	res.AllAt = allAt
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case runErr == nil:
	case stopped != "":
		res.Stopped = stopped
	case run.Err() != nil:
		res.Stopped = fmt.Sprintf("gif netstart had not returned after %v", netstartLimit)
	default:
		return fmt.Errorf("gif netstart: %w", runErr)
	}
	links, err := listGifs(ctx, n)
	if err != nil {
		return err
	}
	res.Created = len(links)
	for _, l := range links {
		if l.Up {
			res.Up++
		}
	}
	if res.RSS, res.PeakRSS, err = memory(pid); err != nil {
		return err
	}
	logf("scale: gif netstart: %v, %d of %d gifs created, %d up; daemon RSS %.0f MB, peak %.0f MB. %s",
		res.Netstart.Round(time.Millisecond), res.Created, res.Count, res.Up, float64(res.RSS)/1e6, float64(res.PeakRSS)/1e6, res.Stopped)
	if err := scaleDestroy(ctx, n, links, res); err != nil {
		return err
	}
	time.Sleep(destroySettle)
	if res.DestroyedRSS, _, err = memory(pid); err != nil {
		return err
	}
	logf("scale: destroyed %d gifs in %v; daemon RSS %.0f MB %v later, %.0f MB idle before. %s", res.Destroyed,
		res.Destroy.Round(time.Millisecond), float64(res.DestroyedRSS)/1e6, destroySettle, float64(res.IdleRSS)/1e6, res.DestroyStopped)
	return nil
}

// scaleDestroy destroys the gifs one gif ifconfig call each, for at most
// destroyLimit, and records what is left.
func scaleDestroy(ctx context.Context, n *node, links []gifLink, res *scaleResult) error {
	destroy, cancel := context.WithTimeout(ctx, destroyLimit)
	defer cancel()
	start := time.Now()
	for _, l := range links {
		if _, err := n.gif(destroy, "ifconfig", l.Name, "destroy"); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.DestroyStopped = fmt.Sprintf("stopped after %v at %s: %v", time.Since(start).Round(time.Millisecond), l.Name, err)
			break
		}
		res.Destroyed++
	}
	res.Destroy = time.Since(start)
	left, err := listGifs(ctx, n)
	if err != nil {
		return err
	}
	var problems []string
	if len(left) > 0 {
		problems = append(problems, fmt.Sprintf("%d gif devices left", len(left)))
	}
	if shown, err := n.gif(ctx, "ifconfig"); err != nil {
		problems = append(problems, fmt.Sprintf("gif ifconfig: %v", err))
	} else if shown != "" {
		problems = append(problems, fmt.Sprintf("gif ifconfig still shows %d lines", strings.Count(shown, "\n")))
	}
	res.Clean = strings.Join(problems, "; ")
	return nil
}

func scaleIfconfig(ctx context.Context, tb *toolbox, res *scaleResult, logf func(string, ...any)) (err error) {
	lab, n, pid, err := scaleHost(ctx, tb)
	if err != nil {
		return fmt.Errorf("scale host: %w", err)
	}
	defer func() { err = errors.Join(err, lab.Close()) }()
	run, cancel := context.WithCancel(ctx)
	defer cancel()
	w := watch(ctx, n, pid, cancel)
	start := time.Now()
	for i := range ifconfigSample {
		if _, err := n.gif(run, ifconfigArgs(i)...); err != nil {
			if ctx.Err() != nil {
				w.stop()
				return ctx.Err()
			}
			res.SampleStopped = fmt.Sprintf("gif%d: %v", i, err)
			break
		}
		res.SampleCreated++
	}
	res.SampleCreate = time.Since(start)
	if stopped, _ := w.stop(); stopped != "" {
		res.SampleStopped = stopped
	}
	logf("scale: %d gif ifconfig calls in %v. %s", res.SampleCreated, res.SampleCreate.Round(time.Millisecond), res.SampleStopped)
	return nil
}

// watcher polls a daemon's resident memory and the gif devices of its
// host while gifs are created.
type watcher struct {
	done    chan struct{}
	wg      sync.WaitGroup
	stopped string        // why it cancelled the creation
	allAt   time.Duration // when scaleCount gif devices existed
}

// watch calls cancel once pid's VmRSS passes scaleRSSLimit or pid is gone.
func watch(ctx context.Context, n *node, pid int, cancel func()) *watcher {
	w := &watcher{done: make(chan struct{})}
	start := time.Now()
	w.wg.Go(func() {
		memTick, devTick := time.NewTicker(memoryPoll), time.NewTicker(devicePoll)
		defer memTick.Stop()
		defer devTick.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-devTick.C:
				if links, err := listGifs(ctx, n); err == nil && len(links) >= scaleCount && w.allAt == 0 {
					w.allAt = time.Since(start)
				}
				continue
			case <-memTick.C:
			}
			rss, _, err := memory(pid)
			if err != nil {
				w.stopped = fmt.Sprintf("the daemon is gone after %v: %v", time.Since(start).Round(time.Millisecond), err)
				cancel()
				return
			}
			if rss > scaleRSSLimit {
				w.stopped = fmt.Sprintf("stopped after %v: the daemon's RSS, %.0f MB, passed the %.0f MB safety limit",
					time.Since(start).Round(time.Millisecond), float64(rss)/1e6, float64(scaleRSSLimit)/1e6)
				cancel()
				return
			}
		}
	})
	return w
}

// stop ends the polling and returns why the watcher cancelled the
// creation ("" if it did not), and when every device existed.
func (w *watcher) stop() (stopped string, allAt time.Duration) {
	close(w.done)
	w.wg.Wait()
	return w.stopped, w.allAt
}
