package scanner
import ("testing";"context";"os")
func TestProfGit(t *testing.T){ if os.Getenv("PROFREPO")=="" {t.Skip()}; r:=ScanGit(context.Background(), os.Getenv("PROFREPO"), GitOptions{Options: Options{MaxFileSize: 10<<20}}); t.Log(r.Stats.Commits, r.Stats.Files, len(r.Errors)) }
