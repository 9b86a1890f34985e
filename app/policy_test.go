package app

import (
	"testing"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// TestOverflowPolicyNamesAgree checks that the history stores exactly the
// policies engine/chat knows, the default first.
func TestOverflowPolicyNamesAgree(t *testing.T) {
	names := history.OverflowPolicies()
	for i, name := range names {
		p, err := chat.ParsePolicy(name)
		if err != nil || int(p) != i {
			t.Errorf("history's policy %q is engine/chat's %v (%v), want number %d", name, p, err, i)
		}
	}
	if _, err := chat.ParsePolicy(chat.Policy(len(names)).String()); err == nil {
		t.Errorf("engine/chat knows more policies than the history's %v", names)
	}
}
