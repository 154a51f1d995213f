package secret

import (
	"encoding/json"
	"reflect"
)

// Walk masks, in place, every string reachable from v (a pointer): exported
// struct fields, slice and array elements, map values and json.RawMessage
// documents (other byte slices are left alone), following pointers and
// interfaces. A report struct passed
// through Walk holds no secret, whatever fields it gains later.
func (r *Redactor) Walk(v any) {
	if r.Empty() || v == nil {
		return
	}
	r.walk(reflect.ValueOf(v), 0)
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// mayHoldText reports whether a value of type t may hold a string.
func mayHoldText(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr, reflect.Float32, reflect.Float64,
		reflect.Complex64, reflect.Complex128:
		return false
	}
	return true
}

func (r *Redactor) walk(v reflect.Value, depth int) {
	if depth > 32 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		if v.Kind() == reflect.Interface && e.Kind() != reflect.Pointer {
			// a value held in an interface is not addressable: mask a copy and put it back
			if !v.CanSet() {
				return
			}
			c := reflect.New(e.Type()).Elem()
			c.Set(e)
			r.walk(c, depth+1)
			v.Set(c)
			return
		}
		r.walk(e, depth+1)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				r.walk(f, depth+1)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			// JSON documents are text; other byte slices (encoded histograms) are left alone
			if v.Type() == rawMessage && v.CanSet() && !v.IsNil() {
				v.SetBytes(r.Bytes(v.Bytes()))
			}
			return
		}
		for i := range v.Len() {
			r.walk(v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := range v.Len() {
			r.walk(v.Index(i), depth+1)
		}
	case reflect.Map:
		if v.IsNil() || !mayHoldText(v.Type().Elem()) {
			return
		}
		it := v.MapRange()
		type kv struct{ k, v reflect.Value }
		var set []kv
		for it.Next() {
			c := reflect.New(v.Type().Elem()).Elem()
			c.Set(it.Value())
			r.walk(c, depth+1)
			set = append(set, kv{it.Key(), c})
		}
		for _, x := range set {
			v.SetMapIndex(x.k, x.v)
		}
	case reflect.String:
		if v.CanSet() {
			if s := r.String(v.String()); s != v.String() {
				v.SetString(s)
			}
		}
	}
}
