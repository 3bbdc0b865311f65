package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeCommands returns the ukeygate command lines of the README's shell
// blocks: continuation lines joined, comments and pipes cut off.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	inBlock := false
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = strings.TrimPrefix(line, "```") == "sh" && !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		line = strings.TrimSpace(line)
		if cur != "" {
			line = cur + " " + line
			cur = ""
		}
		if strings.HasSuffix(line, "\\") {
			cur = strings.TrimSuffix(line, "\\")
			continue
		}
		if strings.HasPrefix(line, "bin/ukeygate ") {
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// shellWords splits a README command line into the words the shell would
// pass: quotes removed, $(…) and $VAR replaced by a placeholder, the
// command cut at a comment, a pipe or &&.
func shellWords(line string) []string {
	line = regexp.MustCompile(`\$\([^)]*\)`).ReplaceAllString(line, "SUBST")
	line = regexp.MustCompile(`\$[A-Za-z_]+`).ReplaceAllString(line, "VAR")
	var words []string
	var w strings.Builder
	inWord := false
	quote := rune(0)
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case (r == '#' || r == '|' || r == '&') && !inWord:
			return words
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestReadmeCommandsParse: every ukeygate command of the README's shell
// blocks names a real subcommand with flags it knows, its required flags
// and its arguments — so a renamed flag breaks this test, not the
// reader's copy-paste. (The walk-through itself was run by hand against
// `make run`; TestWalkthrough and the portal tests run the same flows.)
func TestReadmeCommandsParse(t *testing.T) {
	cmds := readmeCommands(t)
	if len(cmds) < 15 {
		t.Fatalf("found only %d ukeygate commands in the README's shell blocks", len(cmds))
	}
	for _, line := range cmds {
		args := shellWords(line)[1:]
		root, _ := newRootCmd()
		cmd, rest, err := root.Find(args)
		if err != nil || cmd == root || cmd.HasSubCommands() {
			t.Errorf("%s: no such command (%v)", line, err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
			t.Errorf("%s: %v", line, err)
		}
		if err := cmd.ValidateRequiredFlags(); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
}

func TestShellWords(t *testing.T) {
	got := strings.Join(shellWords(`bin/ukeygate phone enroll --name "张三's phone" --code $(sed -n 's/x//p' $W/z.txt) --state $W/p.json | tee $W/x # c`), "|")
	want := `bin/ukeygate|phone|enroll|--name|张三's phone|--code|SUBST|--state|VAR/p.json`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestRepoStandsAlone: no file of the repository points outside it (the
// design notes the project started from are not part of it: the contract
// is docs/protocol.md), and every relative link of the README and docs/
// leads to a file of the repository.
func TestRepoStandsAlone(t *testing.T) {
	t.Parallel()
	root := "../.."
	outside := regexp.MustCompile(`DESIGN\.md|/work/shared|\.\./shared/`)
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "data", "node_modules":
				return filepath.SkipDir
			}
			if d.Name() == "node_modules" { // npm packages (examples/node)
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".yaml", ".yml", ".js", ".html", ".css", ".sh", ".txt":
		default:
			if filepath.Base(path) != "Makefile" {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rel == filepath.Join("cmd", "ukeygate", "readme_test.go") {
			return nil // this test names what it looks for
		}
		if m := outside.Find(b); m != nil {
			t.Errorf("%s points outside the repository: %q", rel, m)
		}
		if filepath.Ext(path) == ".md" {
			for _, m := range link.FindAllSubmatch(b, -1) {
				target := string(m[1])
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
					t.Errorf("%s links to %s, which is not in the repository", rel, target)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
