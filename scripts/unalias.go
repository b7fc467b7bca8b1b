//go:build ignore

// unalias removes the deprecated aliases left behind when definitions moved
// into the leaf packages schema and srs, and rewrites every use to name the
// leaf package instead. Run it from the repository root once no branch that
// still uses the old names is left to land:
//
//	go run scripts/unalias.go && gofmt -l . && go build ./... && go vet ./...
//
// An alias is a type, const, var or func whose doc comment says
// "Deprecated alias: use pkg.Name" (or "Deprecated: use pkg.Name" for a
// wrapping func), pkg being schema or srs. Uses outside the alias's package
// are selectors (report.Event); inside it they are bare names (Event), told
// apart from field names and struct literal keys by the syntax.
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

const module = "github.com/rtmpload/rtmpload"

var leaves = map[string]string{"schema": module + "/schema", "srs": module + "/srs"}

var aliasDoc = regexp.MustCompile(`Deprecated(?: alias)?: use (schema|srs)\.([A-Za-z0-9_]+)`)

type target struct{ pkg, name string }

// edit is a replacement of src[start:end].
type edit struct {
	start, end int
	text       string
}

type file struct {
	path  string
	dir   string // package directory, relative
	src   []byte
	ast   *ast.File
	edits []edit
}

func main() {
	fset := token.NewFileSet()
	var files []*file
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || path == filepath.Join("scripts", "unalias.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		files = append(files, &file{path: path, dir: filepath.Dir(path), src: src, ast: f})
		return nil
	})
	if err != nil {
		fail(err)
	}

	// aliases[dir][name] is where name, defined in dir, moved.
	aliases := map[string]map[string]target{}
	for _, f := range files {
		for _, d := range f.ast.Decls {
			collect(fset, f, d, aliases)
		}
	}
	if len(aliases) == 0 {
		fmt.Println("unalias: no aliases left")
		return
	}
	for _, f := range files {
		rewrite(fset, f, aliases)
	}
	var changed []string
	for _, f := range files {
		if len(f.edits) == 0 {
			continue
		}
		out := apply(f.src, f.edits)
		for pkg := range leaves {
			for _, e := range f.edits {
				if strings.HasPrefix(e.text, pkg+".") {
					out = addImport(out, leaves[pkg])
					break
				}
			}
		}
		out, err = dropUnused(fset, f.path, out)
		if err != nil {
			fail(fmt.Errorf("%s: %w", f.path, err))
		}
		if empty(fset, f.path, out) { // a file that held only aliases
			if err := os.Remove(f.path); err != nil {
				fail(err)
			}
			fmt.Println("unalias: removed", f.path)
			continue
		}
		if err := os.WriteFile(f.path, out, 0o644); err != nil {
			fail(err)
		}
		changed = append(changed, f.path)
	}
	sort.Strings(changed)
	fmt.Printf("unalias: %d files rewritten\n", len(changed))
	if out, err := exec.Command("gofmt", append([]string{"-w"}, changed...)...).CombinedOutput(); err != nil {
		fail(fmt.Errorf("gofmt: %v: %s", err, out))
	}
}

// collect records the aliases of one declaration and deletes them.
func collect(fset *token.FileSet, f *file, d ast.Decl, aliases map[string]map[string]target) {
	add := func(name string, doc *ast.CommentGroup) bool {
		if doc == nil {
			return false
		}
		m := aliasDoc.FindStringSubmatch(doc.Text())
		if m == nil {
			return false
		}
		if aliases[f.dir] == nil {
			aliases[f.dir] = map[string]target{}
		}
		aliases[f.dir][name] = target{m[1], m[2]}
		return true
	}
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil && add(d.Name.Name, d.Doc) {
			f.del(fset, d.Doc.Pos(), d.End())
		}
	case *ast.GenDecl:
		kept := 0
		for _, s := range d.Specs {
			var name string
			var doc *ast.CommentGroup
			switch s := s.(type) {
			case *ast.TypeSpec:
				name, doc = s.Name.Name, s.Doc
			case *ast.ValueSpec:
				if len(s.Names) != 1 {
					kept++
					continue
				}
				name, doc = s.Names[0].Name, s.Doc
			default:
				kept++
				continue
			}
			if doc == nil && len(d.Specs) == 1 {
				doc = d.Doc
			}
			if !add(name, doc) {
				kept++
				continue
			}
			if len(d.Specs) > 1 {
				start := s.Pos()
				if doc != nil && doc != d.Doc {
					start = doc.Pos()
				}
				f.del(fset, start, s.End())
			}
		}
		if kept == 0 {
			start := d.Pos()
			if d.Doc != nil {
				start = d.Doc.Pos()
			}
			f.del(fset, start, d.End())
		}
	}
}

// del removes [from, to) and the rest of its last line.
func (f *file) del(fset *token.FileSet, from, to token.Pos) {
	s, e := fset.Position(from).Offset, fset.Position(to).Offset
	for e < len(f.src) && f.src[e] != '\n' {
		e++
	}
	for _, x := range f.edits { // a block deleted whole covers its specs
		if x.start <= s && e <= x.end {
			return
		}
	}
	kept := f.edits[:0]
	for _, x := range f.edits {
		if !(s <= x.start && x.end <= e) {
			kept = append(kept, x)
		}
	}
	f.edits = append(kept, edit{s, e, ""})
}

// rewrite points every use of an alias at the leaf package.
func rewrite(fset *token.FileSet, f *file, aliases map[string]map[string]target) {
	imports := map[string]string{} // local name -> dir
	for _, im := range f.ast.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		rel, ok := strings.CutPrefix(p, module+"/")
		if !ok {
			continue
		}
		name := filepath.Base(rel)
		if im.Name != nil {
			name = im.Name.Name
		}
		imports[name] = rel
	}
	deleted := func(p token.Pos) bool {
		o := fset.Position(p).Offset
		for _, x := range f.edits {
			if x.text == "" && x.start <= o && o < x.end {
				return true
			}
		}
		return false
	}
	skip := map[*ast.Ident]bool{}
	ast.Inspect(f.ast, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			skip[n.Sel] = true
			if x, ok := n.X.(*ast.Ident); ok {
				if dir, ok := imports[x.Name]; ok {
					if t, ok := aliases[dir][n.Sel.Name]; ok && !deleted(n.Pos()) {
						f.replace(fset, n.Pos(), n.End(), t.pkg+"."+t.name)
					}
				}
			}
		case *ast.Field:
			for _, id := range n.Names {
				skip[id] = true
			}
		case *ast.CompositeLit:
			if n.Type != nil {
				fieldKeys(n, n.Type, skip)
			}
		case *ast.FuncDecl:
			skip[n.Name] = true
		case *ast.TypeSpec:
			skip[n.Name] = true
		case *ast.ValueSpec:
			for _, id := range n.Names {
				skip[id] = true
			}
		}
		return true
	})
	local := aliases[f.dir]
	if local == nil {
		return
	}
	ast.Inspect(f.ast, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok || skip[id] {
			return true
		}
		if t, ok := local[id.Name]; ok && !deleted(id.Pos()) {
			f.replace(fset, id.Pos(), id.End(), t.pkg+"."+t.name)
		}
		return true
	})
}

// fieldKeys marks the keys of a struct literal as field names, following
// the element types of slice and map literals into their elided literals.
func fieldKeys(lit *ast.CompositeLit, typ ast.Expr, skip map[*ast.Ident]bool) {
	var elem ast.Expr
	isStruct := false
	switch t := typ.(type) {
	case *ast.ArrayType:
		elem = t.Elt
	case *ast.MapType:
		elem = t.Value
	case *ast.StarExpr:
		fieldKeys(lit, t.X, skip)
		return
	default:
		isStruct = true
	}
	for _, e := range lit.Elts {
		v := e
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && isStruct {
				skip[id] = true
			}
			if inner, ok := kv.Key.(*ast.CompositeLit); ok && inner.Type == nil {
				if m, ok := typ.(*ast.MapType); ok {
					fieldKeys(inner, m.Key, skip)
				}
			}
			v = kv.Value
		}
		if u, ok := v.(*ast.UnaryExpr); ok && u.Op == token.AND {
			v = u.X
		}
		if inner, ok := v.(*ast.CompositeLit); ok && inner.Type == nil && elem != nil {
			fieldKeys(inner, elem, skip)
		}
	}
}

func (f *file) replace(fset *token.FileSet, from, to token.Pos, text string) {
	f.edits = append(f.edits, edit{fset.Position(from).Offset, fset.Position(to).Offset, text})
}

func apply(src []byte, edits []edit) []byte {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := append([]byte(nil), src...)
	last := len(out) + 1
	for _, e := range edits {
		if e.end > last {
			continue // overlaps one applied
		}
		out = append(out[:e.start], append([]byte(e.text), out[e.end:]...)...)
		last = e.start
	}
	return out
}

func addImport(src []byte, path string) []byte {
	q := strconv.Quote(path)
	if bytes.Contains(src, []byte(q)) {
		return src
	}
	if i := bytes.Index(src, []byte("import (\n")); i >= 0 {
		end := i + bytes.Index(src[i:], []byte("\n)"))
		block := src[i:end]
		if k := bytes.Index(block, []byte("\t\""+module+"/")); k >= 0 { // among the project's imports
			j := i + k
			return append(src[:j], append([]byte("\t"+q+"\n"), src[j:]...)...)
		}
		return append(src[:end], append([]byte("\n\n\t"+q), src[end:]...)...)
	}
	if i := bytes.Index(src, []byte("\nimport ")); i >= 0 {
		return append(src[:i+1], append([]byte("import "+q+"\n"), src[i+1:]...)...)
	}
	i := bytes.Index(src, []byte("\npackage "))
	if bytes.HasPrefix(src, []byte("package ")) {
		i = -1
	}
	j := bytes.IndexByte(src[i+1:], '\n') + i + 2
	return append(src[:j], append([]byte("\nimport "+q+"\n"), src[j:]...)...)
}

// dropUnused removes project and standard library imports the file no
// longer names.
func dropUnused(fset *token.FileSet, path string, src []byte) ([]byte, error) {
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := s.X.(*ast.Ident); ok {
				used[x.Name] = true
			}
		}
		return true
	})
	var cut []edit
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT {
			continue
		}
		for _, s := range g.Specs {
			im := s.(*ast.ImportSpec)
			p, _ := strconv.Unquote(im.Path.Value)
			std := !strings.Contains(strings.Split(p, "/")[0], ".")
			if !strings.HasPrefix(p, module+"/") && !std {
				continue
			}
			name := filepath.Base(p)
			if im.Name != nil {
				name = im.Name.Name
			}
			if used[name] || name == "_" {
				continue
			}
			from, to := im.Pos(), im.End()
			if !g.Lparen.IsValid() {
				from, to = g.Pos(), g.End()
			}
			cut = append(cut, edit{fset.Position(from).Offset, fset.Position(to).Offset, ""})
		}
	}
	out := apply(src, cut)
	return format.Source(bytes.ReplaceAll(out, []byte("import ()\n"), nil))
}

// empty reports whether src declares nothing and says nothing beyond its
// package clause.
func empty(fset *token.FileSet, path string, src []byte) bool {
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	return err == nil && len(f.Decls) == 0 && f.Doc == nil && len(f.Comments) == 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "unalias:", err)
	os.Exit(1)
}
