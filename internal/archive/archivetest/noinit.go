package archivetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// NoInitWork checks the Go package in the current directory (a test's
// own) for work done at program start: its non-test files may declare no
// init function and no package-level variable computed by a call (an
// errors.New sentinel aside), and may import no path containing any of
// forbidden. The decoders of our own exist so that linking them costs
// gemscan's start-up nothing; this keeps them so.
func NoInitWork(t *testing.T, forbidden ...string) {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		files++
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if strings.Contains(p, bad) {
					t.Errorf("%s imports %s", name, p)
				}
			}
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == "init" {
					t.Errorf("%s: func init", fset.Position(d.Pos()))
				}
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, spec := range d.Specs {
					for _, v := range spec.(*ast.ValueSpec).Values {
						if isErrorsNew(v) {
							continue
						}
						ast.Inspect(v, func(n ast.Node) bool {
							if c, ok := n.(*ast.CallExpr); ok {
								t.Errorf("%s: package-level variable computed by a call", fset.Position(c.Pos()))
							}
							return true
						})
					}
				}
			}
		}
	}
	if files == 0 {
		t.Fatal("no source files: is the test running in its package's directory?")
	}
}

func isErrorsNew(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "errors" && sel.Sel.Name == "New" && len(call.Args) == 1
}
