package tests

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDeployDocCommandsExist checks that every medrelay, medrelayctl and
// dicomgw command docs/deploy.md tells an operator to run exists, with
// every flag it names: the guide is followed on a machine where a wrong
// flag is found only during an upgrade.
func TestDeployDocCommandsExist(t *testing.T) {
	doc, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	bins := map[string]string{"medrelay": bin("medrelay"), "medrelay.next": bin("medrelay"),
		"medrelayctl": bin("medrelayctl"), "dicomgw": dicomgwBin(t)}
	cmds := deployDocCommands(string(doc))
	if len(cmds) < 10 {
		t.Fatalf("found only %d commands in docs/deploy.md; is the parser broken?", len(cmds))
	}
	for _, words := range cmds {
		name, sub, flags := bins[words[0]], []string{}, []string{}
		for _, w := range words[1:] {
			if strings.HasPrefix(w, "-") {
				flags = append(flags, strings.SplitN(strings.TrimLeft(w, "-"), "=", 2)[0])
			} else if len(flags) == 0 && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(w) && len(sub) < 2 {
				sub = append(sub, w)
			}
		}
		line := strings.Join(words, " ")
		if len(sub) == 0 {
			t.Errorf("docs/deploy.md: %q names no command", line)
			continue
		}
		if len(flags) == 0 {
			// A command without flags: the usage must list it.
			out, _ := exec.Command(name, "--help").CombinedOutput()
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(sub[0]) + `\b`).Match(out) {
				t.Errorf("docs/deploy.md: %q: %s has no command %s", line, words[0], sub[0])
			}
			continue
		}
		out, _ := exec.Command(name, append(sub, "-h")...).CombinedOutput()
		help := string(out)
		binName := strings.TrimSuffix(words[0], ".next")
		if !strings.Contains(strings.ToLower(help), strings.ToLower("usage of "+binName+" "+strings.Join(sub, " "))) &&
			!strings.Contains(help, "usage: "+binName+" "+strings.Join(sub, " ")) {
			t.Errorf("docs/deploy.md: %q: %s %s is not a command:\n%s", line, binName, strings.Join(sub, " "), tail(help, 5))
			continue
		}
		for _, f := range flags {
			if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(f) + `\b`).MatchString(help) {
				t.Errorf("docs/deploy.md: %q: %s %s has no flag --%s", line, binName, strings.Join(sub, " "), f)
			}
		}
	}
}

// deployDocCommands returns the words of each medrelay, medrelayctl or
// dicomgw command in doc's code blocks and inline code.
func deployDocCommands(doc string) [][]string {
	var texts, prose []string
	inBlock, cont := false, ""
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			prose = append(prose, l)
			continue
		}
		l = cont + strings.SplitN(l, "#", 2)[0]
		if strings.HasSuffix(strings.TrimSpace(l), "\\") {
			cont = strings.TrimSuffix(strings.TrimSpace(l), "\\")
			continue
		}
		cont = ""
		texts = append(texts, l)
	}
	// Inline code may wrap over two lines in the Markdown source.
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(strings.Join(prose, " "), -1) {
		texts = append(texts, m[1])
	}
	joined := strings.Join(texts, "\n")
	var cmds [][]string
	for _, text := range strings.Split(joined, "\n") {
		for _, part := range regexp.MustCompile(`&&|\||;|\$\(`).Split(text, -1) {
			words := strings.Fields(part)
			for i, w := range words {
				if w == "--" {
					words = words[i+1:] // runuser -u medrelay -- medrelay ...
					break
				}
			}
			for len(words) > 0 && (strings.Contains(words[0], "=") || words[0] == "sudo") {
				words = words[1:] // MEDRELAY_TOKEN=... medrelayctl ...
			}
			if len(words) == 0 {
				continue
			}
			switch words[0] {
			case "medrelay", "medrelay.next", "medrelayctl", "dicomgw":
				cmds = append(cmds, words)
			}
		}
	}
	return cmds
}
