package manifest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/config/crd"
	"github.com/netconform/netconform/internal/schedule"
)

// validator checks an object as the API server checks a create of a custom resource,
// with the same library and the CRD the binary embeds, so the messages are the server's.
// The steps follow k8s.io/apiextensions-apiserver's customresource_handler.go (strict
// decoding, pruning, defaulting) and registry/customresource/strategy.go (validation).
type validator struct {
	structural *schema.Structural
	schema     validation.SchemaValidator
	cel        *cel.Validator // nil when the schema has no x-kubernetes-validations
}

// sharedValidator compiles the schema and its CEL rules once per process.
var sharedValidator = sync.OnceValues(newValidator)

func newValidator() (*validator, error) {
	props, err := openAPISchema()
	if err != nil {
		return nil, err
	}
	s, err := schema.NewStructural(props)
	if err != nil {
		return nil, fmt.Errorf("the embedded CRD's schema is not structural: %w", err)
	}
	s = s.DeepCopy() // PruneDefaults changes the schema; the server prunes a copy too
	if err := defaulting.PruneDefaults(s); err != nil {
		return nil, fmt.Errorf("the embedded CRD's defaults: %w", err)
	}
	sv, _, err := validation.NewSchemaValidator(props)
	if err != nil {
		return nil, fmt.Errorf("the embedded CRD's schema: %w", err)
	}
	return &validator{structural: s, schema: sv, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}, nil
}

// openAPISchema returns the v1alpha1 schema of the embedded CRD, converted to the
// internal type that the validators take.
func openAPISchema() (*apiextensions.JSONSchemaProps, error) {
	def, err := crd.ReachabilityTest()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(def.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool {
		return v.Name == v1alpha1.GroupVersion.Version
	})
	if i < 0 || def.Spec.Versions[i].Schema == nil || def.Spec.Versions[i].Schema.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("the embedded CRD has no %s schema", v1alpha1.GroupVersion.Version)
	}
	props := &apiextensions.JSONSchemaProps{}
	err = apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(def.Spec.Versions[i].Schema.OpenAPIV3Schema, props, nil)
	if err != nil {
		return nil, fmt.Errorf("converting the embedded CRD's schema: %w", err)
	}
	return props, nil
}

// problem is one finding at a field path ("" for the whole object).
type problem struct {
	path string
	msg  string
	line int // set by the caller, which has the document
	// unknown marks a field the schema does not know, which was pruned.
	unknown bool
	// after is the path of the unknown field this problem follows from, if any.
	after string
	// note is about the validation itself, not about a field.
	note bool
}

// validate checks obj and, on the way, prunes unknown fields, drops status and applies
// defaults in place, as a create would.
func (v *validator) validate(ctx context.Context, obj map[string]any) []*problem {
	probs := v.decodeStrictly(obj)
	delete(obj, "status") // the status subresource makes a create ignore it
	defaulting.Default(obj, v.structural)

	errs := validateMetadata(obj)
	errs = append(errs, validation.ValidateCustomResource(nil, obj, v.schema)...)
	errs = append(errs, objectmeta.Validate(ctx, nil, obj, v.structural, false)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	errs = append(errs, v.validateRules(ctx, obj, errs)...)
	errs = append(errs, validateSchedule(obj, errs)...)
	pruned := prunedFrom(probs)
	for _, e := range errs {
		p := fieldProblem(e)
		p.after = causedBy(e, pruned)
		probs = append(probs, p)
	}
	return probs
}

// prunedFrom maps each object that lost an unknown field to the first such field.
func prunedFrom(probs []*problem) map[string]string {
	pruned := map[string]string{}
	for _, p := range probs {
		if _, seen := pruned[parentPath(p.path)]; p.unknown && !seen {
			pruned[parentPath(p.path)] = p.path
		}
	}
	return pruned
}

// causedBy finds the unknown field whose pruning an error follows from: a required
// field missing beside it (a misspelling), or a rule of the object that lost it.
func causedBy(e *field.Error, pruned map[string]string) string {
	if u, ok := pruned[e.Field]; ok {
		return u
	}
	if e.Type == field.ErrorTypeRequired {
		return pruned[parentPath(e.Field)]
	}
	return ""
}

// parentPath drops the last segment of a field path: "spec.edges[0].expct" →
// "spec.edges[0]", "spec" → "".
func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i > 0 {
		return path[:i]
	}
	return ""
}

// validateSchedule parses spec.schedule as the controller will: the schema checks only
// its shape, and a schedule that never parses would never run.
func validateSchedule(obj map[string]any, earlier field.ErrorList) field.ErrorList {
	spec, _, _ := unstructured.NestedString(obj, "spec", "schedule")
	if spec == "" || slices.ContainsFunc(earlier, func(e *field.Error) bool { return e.Field == "spec.schedule" }) {
		return nil
	}
	if _, err := schedule.Next(spec, time.Now()); err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "schedule"), spec, err.Error())}
	}
	return nil
}

// decodeStrictly reports unknown fields, in the words of a create with
// fieldValidation=Strict (what kubectl sends), and prunes them. The server stops there;
// this goes on to validate the rest, so that one pass shows every problem.
func (v *validator) decodeStrictly(obj map[string]any) []*problem {
	var probs []*problem
	meta, found, unknown, err := objectmeta.GetObjectMetaWithOptions(obj, objectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		probs = append(probs, &problem{path: "metadata", msg: "metadata: " + err.Error()})
	}
	unknown = append(unknown, pruning.PruneWithOptions(obj, v.structural, true, schema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	defaulting.PruneNonNullableNullsWithoutDefaults(obj, v.structural)
	if err == nil && found {
		if err := objectmeta.SetObjectMeta(obj, meta); err != nil { // drops unknown metadata fields
			probs = append(probs, &problem{path: "metadata", msg: "metadata: " + err.Error()})
		}
	}
	for _, path := range unknown {
		probs = append(probs, &problem{path: path, msg: v.unknownField(path), unknown: true})
	}
	return probs
}

// unknownField words the message as the API server does and adds the fields that are
// allowed there, which is usually the fix.
func (v *validator) unknownField(path string) string {
	msg := fmt.Sprintf("unknown field %q", path)
	segs := splitPath(path)
	if len(segs) == 0 {
		return msg
	}
	if known := fieldsAt(v.structural, segs[:len(segs)-1]); len(known) > 0 {
		msg += fmt.Sprintf(" (known fields here: %s)", strings.Join(known, ", "))
	}
	return msg
}

// fieldsAt lists the properties the schema declares at a path.
func fieldsAt(s *schema.Structural, segs []string) []string {
	for _, seg := range segs {
		if _, err := strconv.Atoi(seg); err == nil && s.Items != nil {
			s = s.Items
			continue
		}
		p, ok := s.Properties[seg]
		if !ok {
			return nil
		}
		s = &p
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// validateMetadata checks metadata as a create of a cluster-scoped object does: the
// name must be a DNS-1123 subdomain and there is no namespace.
func validateMetadata(obj map[string]any) field.ErrorList {
	meta, _, err := objectmeta.GetObjectMeta(obj, false)
	if err != nil {
		return nil // decodeStrictly reported it
	}
	if meta == nil {
		meta = &metav1.ObjectMeta{}
	}
	errs := apivalidation.ValidateObjectMeta(meta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if meta.Name == "" && meta.GenerateName != "" { // the server would generate a name
		errs = slices.DeleteFunc(errs, func(e *field.Error) bool { return e.Field == "metadata.name" && e.Type == field.ErrorTypeRequired })
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "netconform finds tests by name: set name instead of generateName"))
	}
	return errs
}

// validateRules evaluates the CEL rules. Where earlier errors would make the server skip
// them all (strategy.go, hasBlockingErr: CEL must not see ill-typed or oversized values),
// it evaluates them on a copy without the offending values instead, so that one pass
// shows the rule violations too.
func (v *validator) validateRules(ctx context.Context, obj map[string]any, earlier field.ErrorList) field.ErrorList {
	if v.cel == nil {
		return nil
	}
	var blocked []string
	for _, e := range earlier {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			blocked = append(blocked, e.Field)
		}
	}
	if len(blocked) > 0 {
		obj = runtime.DeepCopyJSON(obj)
		for _, path := range blocked {
			deleteAt(obj, splitPath(path))
		}
	}
	errs, _ := v.cel.Validate(ctx, nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	if len(blocked) == 0 {
		return errs
	}
	return ruleViolations(errs, blocked)
}

// ruleViolations keeps the rules that failed on values the user wrote, and drops
// evaluation errors caused by the values taken out, with the server's note that some
// rules may have more to say once the errors are fixed.
func ruleViolations(errs field.ErrorList, blocked []string) field.ErrorList {
	var kept field.ErrorList
	for _, e := range errs {
		if e.Type == field.ErrorTypeInvalid && !strings.Contains(e.Detail, "evaluating rule") && !under(e.Field, blocked) && !lostValue(e.Field, blocked) {
			kept = append(kept, e)
		}
	}
	if len(kept) < len(errs) {
		kept = append(kept, field.Invalid(nil, nil, rulesNotChecked))
	}
	return kept
}

// rulesNotChecked is the API server's note when it skips rules; it comes last.
const rulesNotChecked = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"

// lostValue says whether a rule's object is one that a value was taken out of: the
// rule judged an object the user did not write ("edges: all" is not "no edges").
func lostValue(path string, blocked []string) bool {
	return slices.ContainsFunc(blocked, func(b string) bool { return parentPath(b) == path })
}

func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+".") || strings.HasPrefix(path, r+"[") {
			return true
		}
	}
	return false
}

// deleteAt removes the value at a path from maps; list items stay, to keep the indexes
// in messages right.
func deleteAt(obj map[string]any, segs []string) {
	var cur any = obj
	for i, seg := range segs {
		switch c := cur.(type) {
		case map[string]any:
			if i == len(segs)-1 {
				delete(c, seg)
				return
			}
			cur = c[seg]
		case []any:
			j, err := strconv.Atoi(seg)
			if err != nil || j < 0 || j >= len(c) {
				return
			}
			cur = c[j]
		default:
			return
		}
	}
}

// trailingPath finds the field that a message without a path names at its end, such as
// go-openapi's "Checked value must be of type integer with format int32 in spec.attempts".
var trailingPath = regexp.MustCompile(` in ((?:spec|metadata)(?:[.\[][^ ]*)?)$`)

// fieldProblem keeps the server's text; an error about the whole object has no path to
// print, where field.Error would print "<nil>".
func fieldProblem(e *field.Error) *problem {
	if e.Field == "" || e.Field == "<nil>" {
		if m := trailingPath.FindStringSubmatch(e.Detail); m != nil { // go-openapi names it last
			return &problem{path: m[1], msg: m[1] + ": " + e.Detail}
		}
		return &problem{msg: e.Detail, note: e.Detail == rulesNotChecked}
	}
	return &problem{path: e.Field, msg: e.Error()}
}
