package scenarios

import (
	"fmt"
	"strconv"

	"github.com/goccy/go-yaml/token"
)

// Limits of a scenario file as a whole: a crafted file of a few hundred KB
// must end in an error, not in gigabytes of memory.
const (
	// MaxFileBytes bounds a scenario file; the built-ins have about 1 KB
	// each, and a file of 2,000 groups about 110 KB.
	MaxFileBytes = 1 << 20
	// MaxPublishers bounds the publishers of all groups together, as
	// MaxGroupCount bounds one: each is an ffmpeg process (or a share of
	// one, with fan-out), and the schedule holds each.
	MaxPublishers = 100000
	// MaxFlowDepth bounds how deep flow collections ([...] and {...}) nest.
	// The YAML parser (goccy/go-yaml) takes time and memory that grow with
	// the square of that depth: 4,000 levels cost 8 MB, 100,000 several GB.
	// Block collections nest by indentation, which MaxFileBytes bounds to
	// about 1,400 levels, cheap to parse.
	MaxFlowDepth = 64
	// MaxAliases bounds the aliases (*name): a scenario needs a few at
	// most, and alias bombs expand a small file into a large value.
	MaxAliases = 1000
	// MaxTokens bounds the YAML tokens (keys, values, brackets, dashes): the
	// parser holds a node of a few hundred bytes for each, and takes about a
	// second for 100,000. 2,000 groups of six keys are about 40,000.
	MaxTokens = 100000
)

// checkTokens finds the first token beyond the limits above, with what is
// wrong, or nil.
func checkTokens(tokens token.Tokens) (*token.Token, string) {
	depth, aliases := 0, 0
	for _, tok := range tokens {
		switch tok.Type {
		case token.SequenceStartType, token.MappingStartType:
			if depth++; depth > MaxFlowDepth {
				return tok, fmt.Sprintf("[ ] and { } nest more than %d deep here: at most %d", MaxFlowDepth, MaxFlowDepth)
			}
		case token.SequenceEndType, token.MappingEndType:
			depth = max(depth-1, 0)
		case token.AliasType:
			if aliases++; aliases > MaxAliases {
				return tok, fmt.Sprintf("more than %d aliases (*name): at most %d", MaxAliases, MaxAliases)
			}
		}
	}
	if len(tokens) > MaxTokens {
		return tokens[MaxTokens], fmt.Sprintf("the scenario has more than %d YAML tokens (keys, values, brackets): it cannot be one a person wrote; shorten it", MaxTokens)
	}
	return nil, ""
}

// Length limits of what a scenario puts into a publish URL.
const (
	// MaxNameLen bounds a stream name once expanded. SRS names the HLS
	// segments and DVR files of a stream after it, and a file name has at
	// most 255 bytes on Linux (NAME_MAX); a longer name cannot be recorded.
	MaxNameLen = 255
	// MaxURLPath bounds the path of a publish URL (app/name?query). ffmpeg's
	// RTMP client copies it into a 1024-byte buffer and silently cuts what is
	// longer (libavformat/rtmpproto.c, rtmp_open), so the server would see
	// another name or a cut token.
	MaxURLPath = 1023
	// urlReserve is what rtmpload adds to a scenario's name and param: the
	// app ("live/", or --target's), "?" or "&", and "rtmpload=<attempt id>".
	urlReserve = 128
)

// maxLen is the length of the longest expansion of p over count
// publishers: each placeholder at its widest value.
func (p namePattern) maxLen(count int) int {
	n := 0
	for _, part := range p {
		if !part.placeholder {
			n += len(part.literal)
			continue
		}
		v := max(count-1, 0)
		if part.mod > 0 {
			v = min(v, part.mod-1)
		}
		n += max(part.width, len(strconv.Itoa(v)))
	}
	return n
}

// checkLengths bounds a group's name and param, before anything quotes
// them (a 10 MB name would make a 10 MB error message). A pattern that does
// not compile is left to the checks after this one.
func checkLengths(g Group) *problem {
	nameLen := len(g.Name)
	if p, err := compilePattern(g.Name); err == nil {
		nameLen = p.maxLen(g.Count)
	}
	if nameLen > MaxNameLen {
		return &problem{key: "name", msg: fmt.Sprintf("group %q: name %q expands to %d bytes: at most %d (SRS names HLS and DVR files after the stream, and a file name has at most %d bytes)",
			g.Group, shorten(g.Name), nameLen, MaxNameLen, MaxNameLen)}
	}
	paramLen := len(g.Param)
	if p, err := compileParam(g.Param); g.Param != "" && err == nil {
		paramLen = p.maxLen(g.Count)
	}
	if total := nameLen + paramLen + urlReserve; total > MaxURLPath {
		return &problem{key: "param", msg: fmt.Sprintf("group %q: param %q is longer than the %d bytes its names leave it: the publish URL's path would be about %d bytes, and ffmpeg's RTMP client cuts it at %d",
			g.Group, shorten(g.Param), MaxURLPath-urlReserve-nameLen, total, MaxURLPath)}
	}
	return nil
}
