// The test node's one static binary (tests/testenv/node): its pause image,
// its apiserver relay and the test workloads of the tool image.
//
//	/pause            : sleep until SIGTERM/SIGINT, reap zombies (pause image)
//	/tool hello       : print a line and sleep forever
//	/tool probe       : every 5s TCP-connect to $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
//	                    and to any extra host:port args, print the result
//	/tool serve PORT  : answer every TCP connection with a line naming this pod
//	/tool get ADDR... : every 5s read the first line each server sends
//	/tool api [PATH...]: every 5s GET the apiserver through the kubernetes Service
//	/tool query URL-TEMPLATE [DIR]: log in to a Neo4j Query API as an application
//	                    would, every second (see query.go)
//	/tool forward [--listen-netns P] [--dial-netns P] LISTEN TARGET: a TCP relay
//	                    across network namespaces (the node's apiserver relay)
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func pause() {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range ch {
		if s == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}

func probe(extra []string) {
	targets := extra
	if h, p := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"); h != "" {
		targets = append([]string{net.JoinHostPort(h, p)}, targets...)
	}
	for {
		for _, t := range targets {
			c, err := net.DialTimeout("tcp", t, 3*time.Second)
			if err != nil {
				fmt.Printf("%s probe %s: FAIL %v\n", time.Now().Format(time.RFC3339), t, err)
				continue
			}
			fmt.Printf("%s probe %s: OK local=%s\n", time.Now().Format(time.RFC3339), t, c.LocalAddr())
			c.Close()
		}
		time.Sleep(5 * time.Second)
	}
}

// forward LISTEN TARGET: plain TCP relay (host side of the node netns veth -> apiserver on 127.0.0.1).
// With netnsPath the listening socket is created inside that network
// namespace while the relay dials TARGET from the caller's namespace (so a
// node netns can reach the host's loopback-only apiserver at the same address).
// With dialNetns the relay dials TARGET from that network namespace instead
// (e.g. the host's, passed as an inherited fd: /proc/self/fd/3).
func forward(netnsPath, dialNetns, listen, target string) {
	l, err := listenIn(netnsPath, listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "forwarding %s -> %s\n", listen, target)
	for {
		c, err := l.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			u, err := dialIn(dialNetns, target)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			<-done
			<-done
		}(c)
	}
}

// inNetns runs f on a thread switched into the network namespace at path
// (sockets created by f stay in that namespace), then switches back.
func inNetns(path string, f func()) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	if _, _, e := syscall.RawSyscall(sysSetns, target.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		return fmt.Errorf("setns %s: %v", path, e)
	}
	f()
	if _, _, e := syscall.RawSyscall(sysSetns, self.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		panic(fmt.Sprintf("setns back: %v", e)) // never reuse a thread stuck in the other netns
	}
	return nil
}

func dialIn(netnsPath, addr string) (c net.Conn, err error) {
	if netnsPath == "" {
		return net.DialTimeout("tcp", addr, 5*time.Second)
	}
	// Go creates the socket synchronously in the calling (locked) thread.
	if e := inNetns(netnsPath, func() { c, err = net.DialTimeout("tcp", addr, 5*time.Second) }); e != nil {
		return nil, e
	}
	return c, err
}

func listenIn(netnsPath, addr string) (l net.Listener, err error) {
	if netnsPath == "" {
		return net.Listen("tcp", addr)
	}
	if e := inNetns(netnsPath, func() { l, err = net.Listen("tcp", addr) }); e != nil {
		return nil, e
	}
	return l, err
}

// apiLoop: every 5s an authenticated HTTPS GET of each path (default /version)
// to the apiserver via the kubernetes Service, with the pod's service-account
// token and CA; prints the HTTP status and the start of the body.
func apiLoop(paths []string) {
	if len(paths) == 0 {
		paths = []string{"/version"}
	}
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	pool := x509.NewCertPool()
	if ca, err := os.ReadFile(sa + "ca.crt"); err == nil {
		pool.AppendCertsFromPEM(ca)
	} else {
		fmt.Println("no CA:", err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	for {
		token, _ := os.ReadFile(sa + "token")
		for _, p := range paths {
			req, _ := http.NewRequest("GET", base+p, nil)
			if len(token) > 0 {
				req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
			}
			resp, err := client.Do(req)
			if err != nil {
				fmt.Printf("%s GET %s%s: FAIL %v\n", time.Now().Format(time.RFC3339), base, p, err)
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			fmt.Printf("%s GET %s%s: %s %s\n", time.Now().Format(time.RFC3339), base, p, resp.Status, strings.Join(strings.Fields(string(body)), " "))
		}
		time.Sleep(5 * time.Second)
	}
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "pause" {
		pause()
		return
	}
	if len(args) == 0 {
		args = []string{"hello"}
	}
	switch args[0] {
	case "hello":
		host, _ := os.Hostname()
		fmt.Printf("hello from %s pid=%d\n", host, os.Getpid())
		pause()
	case "probe":
		probe(args[1:])
	case "serve":
		// serve PORT: answer every TCP connection with one line naming this pod
		l, err := net.Listen("tcp", ":"+args[1])
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		host, _ := os.Hostname()
		for {
			c, err := l.Accept()
			if err == nil {
				fmt.Fprintf(c, "hello from %s\n", host)
				c.Close()
			}
		}
	case "get":
		// get HOST:PORT...: every 5s read the first line each server sends
		for {
			for _, t := range args[1:] {
				c, err := net.DialTimeout("tcp", t, 3*time.Second)
				if err != nil {
					fmt.Printf("%s get %s: FAIL %v\n", time.Now().Format(time.RFC3339), t, err)
					continue
				}
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
				b, err := io.ReadAll(c)
				c.Close()
				fmt.Printf("%s get %s: %q %v\n", time.Now().Format(time.RFC3339), t, strings.TrimSpace(string(b)), err)
			}
			time.Sleep(5 * time.Second)
		}
	case "api":
		apiLoop(args[1:])
	case "query":
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, "usage: tool query URL-TEMPLATE [SECRET-DIR]")
			os.Exit(2)
		}
		dir := ""
		if len(args) > 2 {
			dir = args[2]
		}
		queryLoop(args[1], dir)
	case "pause":
		pause()
	case "forward":
		// forward [--listen-netns PATH] [--dial-netns PATH] LISTEN TARGET
		var lns, dns string
		for len(args) > 2 && strings.HasPrefix(args[1], "--") {
			switch args[1] {
			case "--listen-netns":
				lns = args[2]
			case "--dial-netns":
				dns = args[2]
			}
			args = append(args[:1:1], args[3:]...)
		}
		forward(lns, dns, args[1], args[2])
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", args[0])
		os.Exit(2)
	}
}

// setns(2) on linux/amd64 (the syscall package has no constant for it).
const sysSetns = 308
