"""中文 (Chinese), in the tutorials' own terms."""

_UNITS = {"H": "行", "W": "列"}

MESSAGES = {
    "stride_skips": "步长 {stride} 大于窗口 {window}：窗口之间每 {stride} 个位置有 {skipped} 个"
                    "从未被读取",
    "floor_drops": lambda numerator, stride, quotient, rounded, uncovered, dim: (
        f"{numerator} / {stride} = {quotient} 不是整数：向下取整为 {rounded}，"
        f"所以填充后输入的最后 {uncovered} {_UNITS.get(dim, '个位置')}不会被任何窗口覆盖"),
    "ceil_rounds_up": lambda numerator, stride, quotient, rounded, uncovered, dim: (
        f"{numerator} / {stride} = {quotient} 不是整数：ceil_mode 向上取整为 {rounded}，"
        "最后一个窗口越过边缘"),
    "ceil_last_window": "torch 去掉最后一个窗口：它将从 {start} 开始，超出了输入和左侧填充"
                        "（{input} + {padding}），剩下 {out} 个",
    "divides_exactly": "{numerator} / {stride} = {quotient}，正好整除：窗口覆盖到填充后输入的最后"
                       "一个位置",
    "same_padding": "padding='same' 共填充 {dilation}·({kernel} − 1) = {total}：前面 {left}，"
                    "后面 {right}",
    "no_bias": "没有偏置（bias: false）",
    # recurrent layers (rnn, lstm, gru)
    "recurrent_params": "每层每个方向：{gates} 个门，每个门有 W_ih（H × I）、W_hh（H × H_out）"
                        "和两个偏置（b_ih、b_hh）；第一层以上的层读入下一层的 D·H_out 个特征",
    "recurrent_macs": "每个时间步、每层、每个方向：门的矩阵乘 W_ih·x_t 和 W_hh·h_(t−1)；"
                      "加偏置不计入",
    "lstm_fused_kernel": "torch 的 FlopCounterMode 对 LSTM 的融合内核（CPU 上的 oneDNN）计为 0；"
                         "netcalc 像对 GRU 一样计其门的矩阵乘",
    "proj_size_out": "proj_size 决定 H_out：h_t 从 H 个特征投影到 proj_size 个",
    "state_stack": "每层每个方向一个状态，与 batch_first 无关",
    "one_call": "一次调用给出所有输出：参数量和 MACs 计在该条目的第 0 个输出上",
    "bias_not_counted": "加偏置不计入 MACs（FlopCounterMode 只计乘积的乘加次数）",
    "adaptive_exact": "{output} 个区域，每个 {input}/{output} = {size}",
    "adaptive_uneven": lambda input, output, sizes: (
        f"{input} 不能整除为 {output} 个区域：torch 的区域（从 ⌊j·{input}/{output}⌋ 到 "
        f"⌈(j + 1)·{input}/{output}⌉）宽 {' 或 '.join(str(s) for s in sizes)}，彼此重叠"),
    "buffers_not_params": "滑动均值、滑动方差和批次计数是缓冲区（buffer），不是参数",
    "concat_others_equal": "其余维度必须相等，保持不变",
    "elementwise_same": "逐元素运算：形状相同，输出也相同",
    "broadcast": "带广播的逐元素运算：每一维相等或为 1",
    "attention_head_dim": "head_dim = embed_dim / num_heads = {embed_dim} / {heads} = "
                          "{head_dim}",
    "kv_heads_shared": "{kv_heads} 个键/值头，每个由 {group} 个查询头共用（分组查询注意力，"
                       "GQA）：k_proj 和 v_proj 比 q_proj 小 {group} 倍",
    "attention_math_path": "其中 Q·Kᵀ 和 A·V 为 {attention:,}（torch 的 math 路径；softmax "
                           "和缩放不计入）",
    "causal_full_scores": "因果（causal）：math 路径算出每个头全部 {length}×{length} 个分数，"
                          "再屏蔽每个查询之后的位置，所以注意力这一项大约只有一半是有用的计算",
    "rotary_not_counted": "旋转位置编码（RoPE）：q·cos + rotate_half(q)·sin，k 同样，"
                          "共 {multiplies:,} 次逐元素乘法，FlopCounterMode 计为 0 MACs；"
                          "没有参数",
    "gated_product": "act(gate)·up：{multiplies:,} 次逐元素乘法，计为 0 MACs",
    "moe_active_params": "所有专家的参数都存在，但每个 token 只用路由器和 {experts} 个专家中的 "
                         "{top_k} 个：{total:,} 个参数中有 {active:,} 个被激活",
    "moe_active_macs": "每个 token 只运行它的前 {top_k} 个专家：其余 {idle} 个专家不为它计算，"
                       "与路由结果无关（路由器的 softmax、top-k 和加权不计入）",
    "rmsnorm_scale_only": "每个被归一化的元素一个缩放 γ，没有平移 β；没有滑动统计量",
    "forgot_bias": "这只是权重：{bias:,} 个偏置（每个输出通道或输出单元一个）也是参数",
    "counted_buffers": "这把 {buffers:,} 个滑动统计量也算进去了，它们是缓冲区，不是参数",
    "flops_not_macs": "这是 FLOPs，即 2 × MACs（一次乘加是两次运算）；MACs 是 {macs:,}",
    "macs_not_flops": "这是 MACs；FLOPs 是 2 × MACs = {flops:,}",
    "counted_batch": "这是答案的 {factor} 倍：按批大小 {factor} 算了？题目问的是一个输入",
    "channels_last_order": "torch 中特征图的顺序是 [C, H, W]（通道在前），不是 [H, W, C]",
    "batch_differs": "这里的批大小是 {batch}（--batch）：其余都对",
    "empty_answers": "答案文件是空的",
    "used_unpadded": "这是没有填充时的大小：输入先要加上 2P",
    "ceil_not_floor": "这是向上取整；除非设置了 ceil_mode，否则除法向下取整（⌊…⌋）",
    "floor_not_ceil": "这是向下取整；这一层设置了 ceil_mode: true，应向上取整",
    "forgot_plus_one": "少了 + 1：第一个窗口的位置也要算上",
    "forgot_stride": "忽略了步长：窗口每次移动 S",
    "expected_value": "（应为 {value}）", "score_line": "得分：{correct} / {total}（{name}）",
    "unknown_layer": lambda name, spec, closest: (
        f"{spec} 中没有名为 '{name}' 的层或模块" + (f"；是不是 '{closest}'？" if closest else "")),
    "dim": "第 {dim} 维", "output_q": "输出", "params_q": "参数量", "macs_q": "MACs",
    "flops_q": "FLOPs",
    "params": "参数量", "MACs": "MACs（乘加次数）", "buffers": "缓冲区", "features": "特征数",
    "output": "输出", "no_working": "（无需计算：形状与输入相同）",
    "no_working_written": "（netcalc 暂未给出此类型的计算过程：其形状、参数量和 MACs 见 "
                          "`netcalc summary`）",
    "recurrent_one_bias": "这里每个门只算了一个偏置；torch 的 {type} 有两个（b_ih 和 b_hh），"
                          "还差 {bias:,} 个参数",
    "recurrent_one_direction": "这只是一个方向：双向会给每一层再加一份反向的参数，而且第一层以上的"
                               "层读入两个方向的特征（2·H_out）",
    "recurrent_first_layer_only": "这只是第一层：num_layers={layers} 堆叠了 {layers} 层，每层都有"
                                  "自己的权重",
    "recurrent_one_gate": "这只算了一个门：{type} 有 {gates} 个门，每个门都有自己的 W_ih、W_hh "
                          "和偏置",
    "recurrent_wrong_gates": "这按 {counted} 个门算了；{type} 有 {gates} 个门",
    "kv_cache_size": "每个序列的字节数：{mib:,.2f} MiB（每层的键和值各是 [kv_heads, context, "
                     "head_dim]）",
    "kv_dtype_bytes": "这是按每个元素 {bytes} 字节算的；{dtype} 每个元素 {dtype_bytes} 字节",
    "recurrent_one_step": "这只是一个时间步：门的矩阵乘法在 {length} 个时间步上各算一次",
    "heads_counted_twice": "这又乘了一次 {heads} 个头：各个头共用投影矩阵，每个头只取输出中属于"
                           "自己的一段（head_dim = embed_dim / num_heads）",
    "forgot_out_proj": "这漏掉了输出投影（{out:,} 个参数）",
    "kv_heads_as_query_heads": "这给键和值也算了 {heads} 个头：这一层只有 {kv_heads} 个键/值头"
                               "（分组查询注意力），所以 k_proj 和 v_proj 比 q_proj 小 "
                               "{group} 倍",
    "total": "合计", "kv_cache_q": "KV 缓存（每个序列的字节数）", "KV cache": "KV 缓存",
    "kv_forgot_values": "这只有一半：缓存同时保存键（K）和值（V），每层 2 个张量",
    "kv_elements_not_bytes": "这是元素个数；换算成字节，每个元素 {bytes} 字节（{dtype}）",
    # check: more usual mistakes (issue 19)
    "counted_running_stats": "这把 {stats:,} 个滑动均值和滑动方差也算成了参数：它们是缓冲区；"
                             "批归一化的参数是 2·C 个，每个通道一个缩放 γ 和一个平移 β",
    "counted_batch_count": "这把 num_batches_tracked（已见批次数）也算进去了：它是缓冲区，"
                           "不是参数",
    "padded_one_side": "这只在一侧填充了：P 加在两侧，输入增大 2P",
    "groups_not_divided": "这让每个卷积核读入了全部输入通道：groups={groups} 时每个卷积核只读 "
                          "C_in/{groups} 个",
    "depthwise_as_full": "这按普通卷积算了：深度可分离卷积（groups={groups}）的每个卷积核只读"
                         "一个输入通道，C_in/g = 1",
    "transposed_as_conv": "这是普通卷积的公式；转置卷积的输出是 (I − 1)·S − 2P + D·(K − 1) + "
                          "output_padding + 1",
    "flatten_before_pool": "这展平的是 {pool} 的输入（{features:,} 个特征）：展平读的是最后一个"
                           "池化层的输出",
    "bias_false_counted": "这一层 bias: false，没有 {bias:,} 个偏置可算",
    "follows_from": "（由你对 {item} 的答案推出）",
    "follow_through_note": "按你自己的 {item} 计算是对的：得该项的 {credit}；正确值是 {value}",
    "class_title": lambda spec, students, graded, failed: (
        f"{spec}：{students} 份答案，已评 {graded} 份"
        + (f"，{failed} 份未评（见上面的错误）" if failed else "")),
    "student": "学生", "score": "得分", "students": "人数", "item": "题目",
    "wrong": "错", "answered": "作答", "follow_through_q": "承前得分",
    "not_graded": "未评",
    "scores_heading": "得分", "distribution_heading": "得分分布",
    "mistakes_heading": "最常见的错误", "most_wrong_heading": "错得最多的题目",
    "mean_score": "平均 {percent:.1f}%",
    "mistake_count": "{answers} 个答案，{students} 名学生",
    "no_mistakes_named": "（没有可归类的错误）",
    "feedback_title": "{student}：{spec}",
    # exercise: the question sheet, the answer key, the working
    "exercise_variant": "{title}（第 {number} 套）",
    "exercise_answers_title": "{title}（第 {number} 套）：答案",
    "exercise_spec_header": "{name}：第 {number} 套，由 netcalc exercise 以种子 {seed} 抽取",
    "exercise_key_header": "{name} 第 {number} 套（种子 {seed}）的答案，供 `netcalc check` 批改",
    "exercise_input": "输入：{shape}",
    "exercise_named_input": "输入 `{name}`：{shape}",
    "exercise_batch_note": "题目和答案中的形状都不含批维度。",
    "exercise_network": "网络结构", "exercise_layer": "层", "exercise_type": "类型",
    "exercise_reads": "输入来自", "exercise_arguments": "参数设置",
    "exercise_questions": "问题", "exercise_working": "计算过程",
    "exercise_answering": "把答案写进一个 YAML 文件，形状写成列表，数量写成整数"
                          "（`netcalc check` 可以批改）：",
    "exercise_answer_line": "{question}：{answer}",
    "ask_output": "`{layer}` 的输出形状",
    "ask_params": "`{layer}` 的参数量",
    "ask_macs": "`{layer}` 的乘加次数（MACs）",
    "ask_flops": "`{layer}` 的浮点运算次数（FLOPs）",
    "ask_total_params": "整个网络的参数总量",
    "ask_total_macs": "整个网络的乘加次数（MACs）总量",
    "ask_total_flops": "整个网络的浮点运算次数（FLOPs）总量",
    # check: blank and malformed answers, answers to no question, the questions set
    "answer_malformed": "{where}：{reason}",
    "answer_unknown_key": lambda name, closest, known: (
        f"netcalc 不检查 '{name}'" + (f"；是不是 '{closest}'？" if closest else "")
        + f"（它检查 {known}）"),
    "answer_not_a_mapping": lambda name: (
        f"'{name}' 的这个答案没有写明是哪一项：写在 output、params、macs 或 flops 之下，"
        "如 `output: [64, 55, 55]`"),
    "answer_not_asked": lambda question, closest: (
        f"{question} 不是要回答的题目" + (f"；是不是 {closest}？" if closest else "")),
    "not_answered": "未作答", "not_scored": "不计分",
    "not_graded_because": "未评，无法读取答案文件：`{error}`",
    "class_title_listed": lambda spec, students, graded, failed: (
        f"{spec}：{students} 份答案，已评 {graded} 份"
        + (f"，{failed} 份未评（列在下面）" if failed else "")),
    "questions_from_key": "按答案文件的 {count} 道题计分",
    "questions_from_class": "按全班答过的 {count} 道题计分（--key KEY.yaml 按所出的题计分）",
    "points_lost": "失分",
    "answer_warning": "{where}: warning: {what}：{why}（不计分）",
}
