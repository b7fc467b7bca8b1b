package tap

import "github.com/rtmpload/rtmpload/schema"

// Record is the results stream's record of the connection: the tap emits
// the schema's type itself, so no one copies it field by field.
func (c *Conn) Record() *schema.WireConn {
	w := &schema.WireConn{Conn: c.ID, Attempt: c.Attempt, Stream: c.Stream,
		BytesUp: c.BytesUp, BytesDown: c.BytesDown, Unparsed: c.Unparsed,
		Marks: make([]schema.WireMark, len(c.Marks))}
	for i, m := range c.Marks {
		w.Marks[i] = schema.WireMark{Phase: string(m.Phase), At: m.At, Detail: m.Detail}
	}
	return w
}
