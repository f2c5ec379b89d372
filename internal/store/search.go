package store

import (
	"database/sql/driver"
	"strconv"
	"strings"

	"modernc.org/sqlite"
)

// The lists' searches (?q=): every word of the search must appear in a
// row's text, anywhere and without regard to case, so "sync crm" finds
// "CRM sync 01". Case is folded by Unicode's rules on both databases:
// SQLite's own lower() folds ASCII letters only, so on SQLite the text is
// lowered by unicodeLower, a function of Herald's own registered with the
// driver; PostgreSQL's lower() follows the database's locale (ASCII only
// under the C locale: docs/postgres.md).

// sqliteLower is the name unicodeLower is registered under.
const sqliteLower = "herald_lower"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqliteLower, 1, unicodeLower)
}

// unicodeLower is SQL's lower() with Go's Unicode case folding.
func unicodeLower(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch v := args[0].(type) {
	case string:
		return strings.ToLower(v), nil
	case []byte:
		return strings.ToLower(string(v)), nil
	default: // NULL, numbers: as they are
		return v, nil
	}
}

// searchWords returns the condition that every word of q (split on
// spaces) appears in the text expr, without regard to case, as
// " AND ..." to append to a WHERE clause, with args extended by each
// word's pattern; "" and args as they were when q has no words. LIKE's
// wildcards in q are plain characters.
func (tx *Tx) searchWords(expr, q string, args []any) (string, []any) {
	words := strings.Fields(strings.ToLower(q))
	if len(words) == 0 {
		return "", args
	}
	lowered := "lower(" + expr + ")"
	if tx.dialect.kind == SQLite {
		lowered = sqliteLower + "(" + expr + ")"
	}
	cond := ""
	for _, w := range words {
		args = append(args, "%"+likeEscaper.Replace(w)+"%")
		cond += ` AND ` + lowered + ` LIKE $` + strconv.Itoa(len(args)) + ` ESCAPE '\'`
	}
	return cond, args
}
