package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// connection reads one key of a connection Secret: from the environment
// (envFrom), or from a file of the mounted Secret when dir is set.
func connection(dir, key string) string {
	if dir == "" {
		return os.Getenv(key)
	}
	b, err := os.ReadFile(filepath.Join(dir, key))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// queryLoop logs in to the Query API of the instance the Secret names, every
// second, as an application would: POST {"statement": "RETURN 1"} with HTTP
// Basic to the template's URL ({host}: the host of NEO4J_URI, {database}:
// NEO4J_DATABASE or neo4j). It prints one line per change of outcome, never a
// credential: "login ok (password #N)" or "login FAILED ... (password #N)",
// where N counts the distinct passwords seen so far (a rotation read from a
// mounted Secret shows as the next number, without a restart).
func queryLoop(template, dir string) {
	client := &http.Client{Timeout: 5 * time.Second}
	var last, lastLine string
	n := 0
	for {
		uri := connection(dir, "NEO4J_URI")
		user := connection(dir, "NEO4J_USERNAME")
		password := connection(dir, "NEO4J_PASSWORD")
		database := connection(dir, "NEO4J_DATABASE")
		if database == "" {
			database = "neo4j"
		}
		if password != last {
			n++
			last = password
		}
		line := ""
		u, err := url.Parse(uri)
		if err != nil || u.Host == "" || user == "" || password == "" {
			line = fmt.Sprintf("no connection details (uri %t, username %t, password %t)", uri != "", user != "", password != "")
		} else {
			host := u.Hostname()
			target := strings.NewReplacer("{host}", host, "{database}", database).Replace(template)
			req, _ := http.NewRequest("POST", target, bytes.NewBufferString(`{"statement": "RETURN 1"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			req.SetBasicAuth(user, password)
			resp, err := client.Do(req)
			switch {
			case err != nil:
				line = fmt.Sprintf("login FAILED: %v (password #%d)", err, n)
			case resp.StatusCode/100 == 2:
				line = fmt.Sprintf("login ok as %s on %s (password #%d)", user, host, n)
			default:
				line = fmt.Sprintf("login FAILED: %s (password #%d)", resp.Status, n)
			}
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		if line != lastLine {
			fmt.Printf("%s %s\n", time.Now().UTC().Format(time.RFC3339), line)
			lastLine = line
		}
		time.Sleep(time.Second)
	}
}
