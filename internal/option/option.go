// Package option lets a library say which of its options bad input came
// from without knowing a command line: the library's text names an option
// by its field ("Options.Target"), and a command, which knows its flags,
// names the flag that set it instead ("--target").
package option

import (
	"errors"
	"strings"
)

// Error is bad input from one option, or from options that conflict.
type Error struct {
	// Fields are the options the text names, in the library's terms, such
	// as "Options.Target" for the field Target of the package's Options.
	Fields []string
	// Text is the message with names in place of Fields, in the same order.
	Text func(names ...string) string
	// Err, if set, is the underlying error the text describes.
	Err error
}

// New is an Error about the one option field; text makes the message
// with the name it is given for it.
func New(field string, text func(name string) string) *Error {
	return &Error{Fields: []string{field}, Text: func(n ...string) string { return text(n[0]) }}
}

func (e *Error) Error() string { return e.Text(e.Fields...) }

func (e *Error) Unwrap() error { return e.Err }

// Named is the text with names[field] for each field that names has, such
// as the flag that set it; the others keep their field.
func (e *Error) Named(names map[string]string) string {
	n := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		n[i] = f
		if name, ok := names[f]; ok {
			n[i] = name
		}
	}
	return e.Text(n...)
}

// Rename returns err with the text of the first Error in its chain named by
// names (see Named); err itself when there is none. The result wraps err,
// so errors.Is and errors.As still see through it.
func Rename(err error, names map[string]string) error {
	var oe *Error
	if !errors.As(err, &oe) {
		return err
	}
	msg := strings.Replace(err.Error(), oe.Error(), oe.Named(names), 1)
	return &renamed{msg: msg, err: err}
}

type renamed struct {
	msg string
	err error
}

func (r *renamed) Error() string { return r.msg }
func (r *renamed) Unwrap() error { return r.err }
