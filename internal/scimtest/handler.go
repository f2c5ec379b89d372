package scimtest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	filter "github.com/scim2/filter-parser/v2"
)

// resources is one resource type's store and its scim.ResourceHandler.
// It locks the provider's mutex.
type resources struct {
	p      *Provider
	prefix string // of ids: "u-1", "g-1"
	unique string // an attribute no two resources share (any case), or ""
	data   map[string]map[string]any
	seq    map[string]int // creation order, for lists
	next   int
}

func (rs *resources) reset() {
	rs.data, rs.seq = map[string]map[string]any{}, map[string]int{}
}

func copyAttrs(a map[string]any) map[string]any { return maps.Clone(a) }

// taken reports whether another resource than id has attrs' unique value.
func (rs *resources) taken(id string, attrs map[string]any) bool {
	if rs.unique == "" {
		return false
	}
	v, _ := attrs[rs.unique].(string)
	for other, a := range rs.data {
		if s, _ := a[rs.unique].(string); other != id && strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func (rs *resources) resource(id string) scim.Resource {
	return scim.Resource{ID: id, Attributes: copyAttrs(rs.data[id])}
}

func (rs *resources) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	rs.p.mu.Lock()
	defer rs.p.mu.Unlock()
	if rs.taken("", attrs) {
		return scim.Resource{}, scimerrors.ScimErrorUniqueness
	}
	rs.next++
	id := fmt.Sprintf("%s-%d", rs.prefix, rs.next)
	rs.data[id], rs.seq[id] = copyAttrs(attrs), rs.next
	return rs.resource(id), nil
}

func (rs *resources) Get(_ *http.Request, id string) (scim.Resource, error) {
	rs.p.mu.Lock()
	defer rs.p.mu.Unlock()
	if _, ok := rs.data[id]; !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return rs.resource(id), nil
}

func (rs *resources) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	rs.p.mu.Lock()
	defer rs.p.mu.Unlock()
	ids := slices.Collect(maps.Keys(rs.data))
	slices.SortFunc(ids, func(a, b string) int { return rs.seq[a] - rs.seq[b] })
	var match []string
	for _, id := range ids {
		if params.FilterValidator != nil {
			a := copyAttrs(rs.data[id])
			a["id"] = id
			if params.FilterValidator.PassesFilter(a) != nil {
				continue
			}
		}
		match = append(match, id)
	}
	page := scim.Page{TotalResults: len(match), Resources: []scim.Resource{}}
	for i := max(params.StartIndex, 1) - 1; i < len(match) && len(page.Resources) < params.Count; i++ {
		page.Resources = append(page.Resources, rs.resource(match[i]))
	}
	return page, nil
}

func (rs *resources) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	rs.p.mu.Lock()
	defer rs.p.mu.Unlock()
	if _, ok := rs.data[id]; !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	if rs.taken(id, attrs) {
		return scim.Resource{}, scimerrors.ScimErrorUniqueness
	}
	rs.data[id] = copyAttrs(attrs)
	return rs.resource(id), nil
}

func (rs *resources) Delete(_ *http.Request, id string) error {
	rs.p.mu.Lock()
	defer rs.p.mu.Unlock()
	if _, ok := rs.data[id]; !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(rs.data, id)
	delete(rs.seq, id)
	return nil
}

// Patch applies add, replace and remove to top-level attributes (add
// appends to a multi-valued one, skipping values it has), a path-less add
// or replace of several attributes, and remove of members[value eq "x"].
func (rs *resources) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	rs.p.mu.Lock()
	defer rs.p.mu.Unlock()
	cur, ok := rs.data[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	a := copyAttrs(cur)
	for _, op := range ops {
		if op.Path == nil {
			m, ok := op.Value.(map[string]any)
			if !ok || op.Op == scim.PatchOperationRemove {
				return scim.Resource{}, scimerrors.ScimErrorInvalidValue
			}
			maps.Copy(a, m)
			continue
		}
		if op.Path.SubAttribute != nil || op.Path.AttributePath.SubAttribute != nil {
			return scim.Resource{}, scimerrors.ScimErrorInvalidPath
		}
		name := op.Path.AttributePath.AttributeName
		if op.Path.ValueExpression != nil {
			e, ok := op.Path.ValueExpression.(*filter.AttributeExpression)
			if !ok || op.Op != scim.PatchOperationRemove || e.Operator != filter.EQ || e.AttributePath.AttributeName != "value" {
				return scim.Resource{}, scimerrors.ScimErrorInvalidPath
			}
			list, _ := a[name].([]any)
			a[name] = slices.DeleteFunc(slices.Clone(list), func(v any) bool {
				m, _ := v.(map[string]any)
				return m != nil && m["value"] == e.CompareValue
			})
			continue
		}
		switch op.Op {
		case scim.PatchOperationRemove:
			delete(a, name)
		case scim.PatchOperationReplace:
			a[name] = op.Value
		case scim.PatchOperationAdd:
			list, isList := a[name].([]any)
			add, adding := op.Value.([]any)
			if !adding || (!isList && a[name] != nil) {
				a[name] = op.Value
				continue
			}
			for _, v := range add {
				if !slices.ContainsFunc(list, func(have any) bool { return fmt.Sprint(have) == fmt.Sprint(v) }) {
					list = append(list, v)
				}
			}
			a[name] = list
		}
	}
	if rs.taken(id, a) {
		return scim.Resource{}, scimerrors.ScimErrorUniqueness
	}
	rs.data[id] = a
	return rs.resource(id), nil
}
