package report

import (
	"reflect"

	"github.com/rtmpload/rtmpload/schema"
)

// termSafe escapes, in place, the control characters (ESC, CSI, BEL, ...)
// of every string a report shows: names and ids come from the scenario, the
// command line or a results file, messages from ffmpeg and the servers, and
// a table on a terminal, a Markdown job summary or an HTML page must show
// an escape sequence, not pass it on (schema.TermSafe, as hook, serve and
// diagnose print theirs). Escaping again changes nothing, so a summary
// rendered twice (report.json's HTML, then the table) is the same.
func termSafe(s *Summary, x *Extras) {
	if s != nil {
		termSafeValue(reflect.ValueOf(s).Elem())
	}
	if x != nil {
		termSafeValue(reflect.ValueOf(&x.Thresholds).Elem())
		if x.Baseline != nil {
			termSafeValue(reflect.ValueOf(x.Baseline).Elem())
		}
	}
}

var stringType = reflect.TypeFor[string]()

func termSafeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			if s := v.String(); s != schema.TermSafe(s) {
				v.SetString(schema.TermSafe(s))
			}
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			termSafeValue(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				termSafeValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			termSafeValue(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		iter := v.MapRange()
		type kv struct{ k, v reflect.Value }
		var entries []kv
		for iter.Next() {
			entries = append(entries, kv{iter.Key(), iter.Value()})
		}
		for _, e := range entries {
			// Map values cannot be set in place: copy, escape, store.
			val := reflect.New(e.v.Type()).Elem()
			val.Set(e.v)
			termSafeValue(val)
			key := e.k
			if key.Kind() == reflect.String && key.Type().ConvertibleTo(stringType) {
				if safe := schema.TermSafe(key.String()); safe != key.String() {
					v.SetMapIndex(key, reflect.Value{})
					key = reflect.ValueOf(safe).Convert(key.Type())
				}
			}
			v.SetMapIndex(key, val)
		}
	}
}
